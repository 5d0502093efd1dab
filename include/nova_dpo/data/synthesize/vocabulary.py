"""The vocabulary of the synthetic data: value pools for arguments, and the wording around answers.

Strings are copied verbatim into questions and calls, so none holds a reserved Nova string. Values are drawn
by their position in a pool, so a pool's order is part of the stream: a change here changes the bytes a seed
writes.
"""

from __future__ import annotations

import datetime as dt

# --------------------------------------------------------------------------------------------------------
# Argument values.
# --------------------------------------------------------------------------------------------------------

CITIES = (
    "Paris", "Lisbon", "Tokyo", "Nairobi", "Toronto", "Buenos Aires", "Sydney", "Oslo", "Cairo", "Mumbai",
    "Seoul", "Mexico City", "Chicago", "Berlin", "Madrid", "Rome", "Dublin", "Vienna", "Prague", "Istanbul",
    "Bangkok", "Singapore", "Hanoi", "Lima", "Bogota", "Santiago", "Cape Town", "Lagos", "Accra",
    "Casablanca", "Reykjavik", "Helsinki", "Stockholm", "Copenhagen", "Warsaw", "Budapest", "Athens",
    "Zurich", "Amsterdam",
    "Brussels", "Edinburgh", "Manchester", "Boston", "Seattle", "Denver", "Austin", "Miami", "Vancouver",
    "Montreal", "Auckland", "Melbourne", "Osaka", "Taipei", "Manila", "Jakarta", "Kuala Lumpur", "Dubai",
    "Doha", "Marrakesh", "Porto", "Krakow", "Tallinn", "Riga", "Valencia", "Lyon", "Munich", "Hamburg",
    "Milan", "Naples", "Florence", "Geneva", "San Francisco", "Los Angeles", "New York", "Atlanta", "Quito",
)  # fmt: skip
FIRST_NAMES = (
    "Maria", "Kenji", "Aisha", "Lucas", "Priya", "Tomas", "Chloe", "Omar", "Ingrid", "Mateo", "Yuki",
    "Fatima", "Noah", "Elena", "Kwame", "Sofia", "Arjun", "Hannah", "Diego", "Mei", "Liam", "Zara", "Felix",
    "Amara",
)  # fmt: skip
LAST_NAMES = (
    "Lopez", "Tanaka", "Bello", "Martin", "Sharma", "Novak", "Dubois", "Haddad", "Larsen", "Rossi", "Kim",
    "Okafor", "Schmidt", "Silva", "Mensah", "Nguyen", "Cohen", "Walsh", "Petrov", "Costa", "Ali", "Berg",
)  # fmt: skip
PEOPLE = tuple(f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES)
EMAIL_DOMAINS = ("example.com", "example.org", "mail.example.net")
EMAILS = tuple(
    f"{person.split()[0].lower()}.{person.split()[1].lower()}@{EMAIL_DOMAINS[i % len(EMAIL_DOMAINS)]}"
    for i, person in enumerate(PEOPLE)
)
DATES = tuple((dt.date(2026, 1, 1) + dt.timedelta(days=offset)).isoformat() for offset in range(365))
DATE_INDEX = {date: index for index, date in enumerate(DATES)}
# First days of a leave: none in the year's last five weeks.
LEAVE_START_DATES = DATES[:330]
TIMES = tuple(f"{hour:02d}:{minute:02d}" for hour in range(7, 22) for minute in (0, 15, 30, 45))
TICKERS = (
    "AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "TSLA", "META", "NFLX", "INTC", "AMD", "IBM", "ORCL", "CRM",
    "ADBE", "PYPL", "UBER", "SHOP", "SNOW", "DIS", "KO", "PEP", "NKE", "SBUX", "JPM", "BAC", "WMT", "COST",
    "XOM", "CVX", "PFE", "MRK", "JNJ", "BA", "CAT", "GE", "GM", "VZ", "SONY", "ASML", "SAP", "TM", "BABA",
)  # fmt: skip
CURRENCIES = (
    "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "INR",
    "CNY", "SGD", "HKD", "KRW", "BRL", "MXN", "ZAR", "TRY", "AED",
)  # fmt: skip
CRYPTO = ("BTC", "ETH", "SOL", "ADA", "DOT", "XRP", "LTC", "DOGE", "AVAX", "LINK", "ATOM", "XLM")
AIRLINES = ("BA", "LH", "AF", "KL", "UA", "DL", "AA", "QF", "EK", "SQ", "TP", "IB", "NH", "AC", "LX")
EVENT_TITLES = (
    "Team standup", "Budget review", "Dentist appointment", "Lunch with Sam", "Project kickoff",
    "Quarterly planning", "Yoga class", "Parent-teacher meeting", "Design review", "Client call",
    "Book club", "Car service", "Guitar lesson", "One-on-one with my manager", "Sprint retrospective",
    "Vet appointment", "Board meeting", "Coffee with Alex", "Interview with a candidate", "Piano recital",
)  # fmt: skip
LOCATIONS = (
    "Conference Room B", "the main office", "the downtown studio", "Room 4.12", "the community center",
    "the cafe on Main Street", "the north building", "the library meeting room",
)  # fmt: skip
SUBJECTS = (
    "Quarterly budget review", "Team offsite plan", "Invoice 4471", "Lunch on Friday",
    "Project Atlas kickoff",
    "Updated contract draft", "Holiday schedule", "Onboarding checklist", "Marketing launch timeline",
    "Server maintenance window", "Book club picks", "Conference travel", "Design review notes",
    "Weekly status update", "Birthday surprise for Sam", "Rent receipt", "Volunteer sign-up", "Hiring plan",
    "Roadmap feedback", "Expense report",
)  # fmt: skip
EMAIL_BODIES = (
    "I will be ten minutes late", "Please find the numbers attached", "Can we move this to next week",
    "Thanks for your help today", "The draft is ready for review", "Let me know if you have questions",
    "I am out of office until Monday", "Great work on the launch",
)  # fmt: skip
MAIL_QUERIES = (
    "boarding pass", "invoice", "receipt", "password reset", "meeting notes", "newsletter", "offer letter",
    "lease agreement", "tax documents", "shipping confirmation", "project proposal", "dentist appointment",
    "insurance renewal", "concert tickets", "school trip",
)  # fmt: skip
PRODUCTS = (
    "wireless earbuds", "standing desk", "espresso machine", "running shoes", "mechanical keyboard",
    "air purifier", "yoga mat", "electric toothbrush", "noise-cancelling headphones", "cast iron skillet",
    "robot vacuum", "hiking backpack", "smart watch", "office chair", "water bottle", "desk lamp",
    "portable charger", "rice cooker", "winter jacket", "bluetooth speaker", "camping tent", "blender",
    "e-reader", "gaming mouse", "baby stroller", "electric kettle", "road bike helmet", "USB-C hub",
    "4K monitor", "coffee grinder", "sleeping bag", "air fryer", "digital camera", "fitness tracker",
)  # fmt: skip
SPECIALTIES = (
    "dermatology", "cardiology", "pediatrics", "orthopedics", "neurology", "ophthalmology", "psychiatry",
    "gynecology", "dentistry", "physiotherapy", "allergy care", "sports medicine", "endocrinology",
)  # fmt: skip
INSURERS = ("Aetna", "Cigna", "Blue Cross", "Allianz", "AXA", "Bupa", "UnitedHealthcare", "Humana")
ACTIVITIES = (
    "running", "cycling", "swimming", "yoga", "rowing", "weightlifting", "hiking", "pilates", "boxing",
    "tennis", "climbing", "dancing", "spinning", "walking",
)  # fmt: skip
TEAMS = (
    "Arsenal", "Real Madrid", "Boston Celtics", "Bayern Munich", "Juventus", "Chicago Bulls", "Ajax",
    "Liverpool", "Barcelona", "New York Yankees", "Toronto Raptors", "Paris Saint-Germain", "Benfica",
    "Inter Milan", "Los Angeles Lakers", "Celtic", "Golden State Warriors", "Borussia Dortmund", "Porto FC",
    "Seattle Sounders", "Manchester City", "Green Bay Packers", "Montreal Canadiens", "Napoli",
)  # fmt: skip
LEAGUES = (
    "Premier League", "La Liga", "NBA", "Serie A", "Bundesliga", "MLS", "NHL", "NFL", "Ligue 1", "Eredivisie",
    "Primeira Liga", "WNBA",
)  # fmt: skip
SEASONS = ("2021-22", "2022-23", "2023-24", "2024-25", "2025-26")
SONGS = {
    "Bohemian Rhapsody": "Queen", "Clair de Lune": "Debussy", "Hotel California": "Eagles",
    "Rolling in the Deep": "Adele", "Blinding Lights": "The Weeknd", "Superstition": "Stevie Wonder",
    "Take Five": "Dave Brubeck", "Dancing Queen": "ABBA", "Yesterday": "The Beatles",
    "Purple Rain": "Prince", "Viva la Vida": "Coldplay", "Redemption Song": "Bob Marley",
    "Wonderwall": "Oasis", "Respect": "Aretha Franklin", "So What": "Miles Davis",
    "Shape of You": "Ed Sheeran", "Smells Like Teen Spirit": "Nirvana", "Imagine": "John Lennon",
    "Hallelujah": "Leonard Cohen", "Bad Guy": "Billie Eilish", "Levitating": "Dua Lipa",
    "Fly Me to the Moon": "Frank Sinatra", "Africa": "Toto", "Halo": "Beyonce",
}  # fmt: skip
PLAYLIST_NAMES = (
    "Sunday Morning", "Road Trip", "Focus Mode", "Workout Mix", "Rainy Day", "Dinner Party", "Late Night",
    "Summer Vibes", "Study Session", "Throwbacks", "Chill Evening", "Morning Run",
)  # fmt: skip
GENRES = (
    "jazz", "lo-fi", "classical", "rock", "hip hop", "indie folk", "reggae", "house", "soul", "bossa nova",
    "blues", "country", "synthwave", "k-pop",
)  # fmt: skip
PLACE_TYPES = (
    "pharmacy", "gas station", "ATM", "supermarket", "car wash", "gym", "post office", "bookstore",
    "laundromat", "hardware store", "park", "pet store", "bike repair shop", "florist",
)  # fmt: skip
LANGUAGES = (
    "Spanish", "French", "German", "Japanese", "Portuguese", "Italian", "Korean", "Arabic", "Hindi", "Dutch",
    "Swedish", "Turkish", "Polish", "Greek", "Mandarin Chinese", "Vietnamese", "Indonesian", "Swahili",
)  # fmt: skip
PHRASES = (
    "Where is the nearest train station", "How much does this cost", "I would like a table for two",
    "Thank you for your hospitality", "Could you call a taxi for me", "What time does the museum open",
    "I am allergic to peanuts", "Nice to meet you", "The meeting has been moved to Thursday",
    "Happy birthday, my friend", "Is breakfast included", "Please send me the invoice",
    "Where can I buy a bus ticket", "The weather is lovely today", "I lost my passport",
)  # fmt: skip
FOREIGN_PHRASES = (
    "Bom dia, tudo bem", "Wo ist der Bahnhof", "Je voudrais un cafe", "Muchas gracias por todo",
    "Dove si trova la farmacia", "Hoe laat is het", "Tack for maten", "Nasilsin bugun",
    "Dziekuje bardzo", "Selamat pagi", "Habari za asubuhi", "Hyvaa huomenta",
)  # fmt: skip
UNIT_GROUPS = (
    ("meters", "feet", "inches", "centimeters", "miles", "kilometers", "yards"),
    ("kilograms", "pounds", "ounces", "grams", "stones"),
    ("liters", "gallons", "cups", "milliliters", "pints"),
)
UNITS = tuple(unit for group in UNIT_GROUPS for unit in group)
UNIT_GROUP = {unit: group for group in UNIT_GROUPS for unit in group}
NEWS_TOPICS = (
    "technology", "climate", "sports", "science", "business", "health", "politics", "space exploration",
    "education", "entertainment", "artificial intelligence", "energy", "travel", "the economy",
)  # fmt: skip
NEWS_QUERIES = (
    "electric vehicles", "Mars mission", "interest rates", "heat wave", "chip shortage", "Olympic Games",
    "housing market", "renewable energy", "vaccine trial", "trade agreement", "wildfire season",
    "quantum computing", "minimum wage", "high-speed rail",
)  # fmt: skip
COUNTRIES = (
    "Germany", "Japan", "Brazil", "Canada", "India", "Kenya", "Australia", "Mexico", "France", "Spain",
    "South Korea", "Nigeria", "Norway", "Argentina",
)  # fmt: skip
CUISINES = (
    "Thai", "Italian", "Mexican", "Japanese", "Indian", "Ethiopian", "Lebanese", "Vietnamese", "Greek",
    "Korean", "Peruvian", "Moroccan", "Spanish", "Turkish", "French", "Georgian",
)  # fmt: skip
RESTAURANTS = (
    "Luna Bistro", "The Olive Tree", "Sakura House", "Casa Mia", "The Golden Spoon", "Spice Route",
    "Harbor Grill", "Le Petit Jardin", "Blue Door Kitchen", "Noodle Bar 88", "The Copper Pot", "Verde",
    "Saffron Lounge", "Fig and Thistle", "The Salt Cellar", "Mama Rosa",
)  # fmt: skip
ROOMS = ("living room", "bedroom", "kitchen", "office", "nursery", "basement", "hallway", "dining room")
DOORS = ("front", "back", "garage", "side", "patio")
ACCOUNTS = ("checking", "savings", "credit card", "brokerage")
TRANSFER_ACCOUNTS = ("checking", "savings", "brokerage", "joint")
MEMOS = ("rent share", "vacation fund", "birthday gift", "emergency fund", "car repair", "tuition")
LEAVE_NOTES = ("family wedding", "medical appointment", "moving house", "school holidays")
MOVIES = (
    "The Last Lighthouse", "Midnight Orbit", "Paper Tigers", "The Silent Harbor", "Northern Lights",
    "A Year in Kyoto", "Glass Mountain", "The Long Summer", "Echoes of Tomorrow", "River of Stars",
    "The Clockmaker", "Desert Bloom",
)  # fmt: skip
INGREDIENTS = (
    "chickpeas", "salmon", "spinach", "tofu", "chicken thighs", "sweet potatoes", "mushrooms", "lentils",
    "eggplant", "shrimp", "quinoa", "zucchini", "ground beef", "cauliflower", "black beans", "halloumi",
)  # fmt: skip
WORDS = (
    "ephemeral", "serendipity", "ubiquitous", "melancholy", "pragmatic", "eloquent", "resilient",
    "ambiguous", "meticulous", "quintessential", "gregarious", "laconic", "sonder", "petrichor",
)  # fmt: skip
LANDMARKS = (
    "Central Station", "the airport", "City Hall", "Riverside Mall", "the Grand Hotel", "Union Square",
    "the convention center", "Lakeside Park", "Memorial Hospital", "the university campus", "Harbor Pier",
    "the stadium", "Westfield Library", "Oak Street Market", "the art museum", "the ferry terminal",
)  # fmt: skip
JOB_TITLES = (
    "data analyst", "nurse", "software engineer", "accountant", "graphic designer", "project manager",
    "electrician", "teacher", "product manager", "pharmacist", "UX researcher", "marketing manager",
    "civil engineer", "chef",
)  # fmt: skip
TASKS = (
    "call the dentist", "pick up the dry cleaning", "water the plants", "pay the electricity bill",
    "renew my passport", "take my medication", "book the car service", "send mom a birthday card",
    "submit the expense report", "buy groceries", "back up my laptop", "return the library books",
)  # fmt: skip

# --------------------------------------------------------------------------------------------------------
# Wording of the answers.
# --------------------------------------------------------------------------------------------------------

OPENERS = ("",) * 10 + (
    "Hi! ", "Hello. ", "Hey there. ", "Good morning! ", "Quick question. ", "Hi, I need some help. ",
    "Excuse me. ", "Hello, hope you're well. ",
)  # fmt: skip
CLOSERS = ("",) * 10 + (" Thanks!", " Thank you.", " Thanks in advance.", " Appreciate it!")
ASK_PREFIXES = ("",) * 4 + ("Sure. ", "Happy to help. ", "I can help with that. ", "Of course! ", "Got it. ")
REFUSALS = (
    "I'm sorry, but I can't {action} with the tools I have available.",
    "Unfortunately, none of the tools available to me can {action}, so I'm unable to help with this request.",
    "I'm afraid I can't help with that. None of my available tools lets me {action}.",
    "Sorry, I don't have a tool that can {action}, so I can't answer this one.",
)
# Refusals that also name what the offered tools do: only for the chosen answer, where that is true.
REFUSALS_NAMING_TOOLS = (
    "I don't have access to a tool that can {action}. The tools I have only cover {topics}.",
    "Sorry, that's outside what I can do here: my tools handle {topics}, and none of them can {action}.",
    "I'm unable to {action} because the available tools only support {topics}. A dedicated service "
    "should be able to help with that.",
)
