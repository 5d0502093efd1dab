"""The tool catalogue, as data: one block per tool, across many domains.

Each block gives the tool's name, domain, topic (a noun phrase: "flight search") and action (an infinitive
phrase: "search for flights"), its description, its arguments (how values are drawn, and how a question asks
for or mentions them), several question phrasings and the hallucinated direct answers, in the template
language of :mod:`~nova_dpo.data.synthesize.templates`. Entries are checked as they are built
(:func:`~nova_dpo.data.synthesize.tools.tool`). Catalogue order is part of the stream: a change here
changes the bytes a seed writes.
"""

from __future__ import annotations

from nova_dpo.data.synthesize.sampling import (
    artist_of_song,
    code,
    days_after,
    decimal,
    flight_number,
    integer,
    one_of,
    other_than,
    same_group_unit,
)
from nova_dpo.data.synthesize.tools import (
    ToolSpec,
    flag,
    optional,
    optional_choice,
    required,
    required_choice,
    tool,
)
from nova_dpo.data.synthesize.vocabulary import (
    ACCOUNTS,
    ACTIVITIES,
    CITIES,
    COUNTRIES,
    CRYPTO,
    CUISINES,
    CURRENCIES,
    DATES,
    DIGITS,
    DOORS,
    EMAIL_BODIES,
    EMAILS,
    EVENT_TITLES,
    FOREIGN_PHRASES,
    GENRES,
    INGREDIENTS,
    INSURERS,
    JOB_TITLES,
    LANDMARKS,
    LANGUAGES,
    LEAGUES,
    LEAVE_NOTES,
    LOCATIONS,
    MAIL_QUERIES,
    MEMOS,
    MOVIES,
    NEWS_QUERIES,
    NEWS_TOPICS,
    PEOPLE,
    PHRASES,
    PLACE_TYPES,
    PLAYLIST_NAMES,
    PRODUCTS,
    RESTAURANTS,
    ROOMS,
    SEASONS,
    SONGS,
    SPECIALTIES,
    SUBJECTS,
    TASKS,
    TEAMS,
    TICKERS,
    TIMES,
    TRANSFER_ACCOUNTS,
    UNITS,
    WORDS,
)

_UNITS_PARAM = optional_choice(
    "units", "Temperature units.", ("celsius", "fahrenheit"), "in {units}", default="celsius"
)

# The catalogue is a table: one tool per block, laid out by hand for reading, so the formatter leaves it be.
# fmt: off
TOOLS: tuple[ToolSpec, ...] = (
    tool(
        "get_current_weather", "weather", "current weather", "check the current weather",
        "Get the current weather conditions for a city.",
        (
            required("city", "string", "City name, e.g. Paris.", one_of(CITIES),
                      "Which city would you like the current weather for?"),
            _UNITS_PARAM,
        ),
        (
            "What's the weather like[ in {city}] right now?",
            "weather now[ {city}]",
            "Could you tell me the current weather conditions[ in {city}], please?",
            "I'm about to go for a walk. Is it raining[ in {city}] at the moment?",
            "How warm is it[ in {city}] right now[ in {units}]?",
        ),
        (
            "It is {x_temp} degrees and {x_sky}[ in {city}] right now.",
            "Right now it's {x_sky}[ in {city}] with a temperature of {x_temp} degrees and light winds.",
        ),
    ),
    tool(
        "get_weather_forecast", "weather", "weather forecasts", "get a weather forecast",
        "Get the weather forecast for a city on a given date.",
        (
            required("city", "string", "City name.", one_of(CITIES),
                      "Which city should I get the forecast for?"),
            required("date", "string", "Date in YYYY-MM-DD format.", one_of(DATES),
                      "Which date would you like the forecast for?"),
            _UNITS_PARAM,
        ),
        (
            "What's the forecast[ for {city}][ on {date}]?",
            "forecast[ {city}][ {date}]",
            "Will it rain[ in {city}][ on {date}]? I need to decide whether to pack an umbrella.",
            "Could you please check the weather forecast[ in {city}][ for {date}]?",
            "We're planning an outdoor party[ in {city}][ on {date}]. What will the weather be like?",
        ),
        ("The forecast[ for {city}][ on {date}] is {x_sky} with a high of {x_temp} degrees.",),
    ),
    tool(
        "get_stock_price", "finance", "stock quotes", "look up stock prices",
        "Get the latest trading price of a stock.",
        (
            required("ticker", "string", "Stock ticker symbol, e.g. AAPL.", one_of(TICKERS),
                      "Which stock ticker would you like the price for?"),
            flag("include_after_hours", "Include after-hours trading.", "including after-hours trading"),
        ),
        (
            "What's the latest stock price[ for {ticker}]?",
            "quote[ {ticker}]",
            "Could you look up the current share price[ of {ticker}] for me?",
            "I'm thinking about selling some shares. How is the stock[ {ticker}] doing today?",
            "Please get me a real-time stock quote[ for {ticker}].",
        ),
        ("The stock[ ({ticker})] is trading at {x_price} dollars, up {x_pct}% on the day.",),
    ),
    tool(
        "get_crypto_price", "finance", "cryptocurrency prices", "check cryptocurrency prices",
        "Get the current market price of a cryptocurrency.",
        (
            required("symbol", "string", "Coin symbol, e.g. BTC.", one_of(CRYPTO),
                      "Which cryptocurrency would you like the price of?"),
            optional("currency", "string", "Quote currency code.", one_of(CURRENCIES), "in {currency}",
                      default="USD"),
        ),
        (
            "What's the current price[ of {symbol}]?",
            "crypto price[ {symbol}]",
            "Could you check the latest market price[ for {symbol}], please?",
            "I bought some crypto last year. What is the price[ of {symbol}] today?",
        ),
        ("The price[ of {symbol}] is currently {x_price}, down {x_pct}% over the last 24 hours.",),
    ),
    tool(
        "convert_currency", "currency", "currency conversion", "convert between currencies",
        "Convert an amount of money from one currency to another at the current rate.",
        (
            required("amount", "number", "Amount to convert.", decimal(5, 5000, 2),
                      "How much money would you like to convert?"),
            required("from_currency", "string", "ISO code of the source currency.", one_of(CURRENCIES),
                      "Which currency are you converting from?"),
            required("to_currency", "string", "ISO code of the target currency.",
                      other_than(CURRENCIES, "from_currency"),
                      "Which currency would you like to convert to?"),
        ),
        (
            "Convert[ {amount}][ {from_currency}][ to {to_currency}].",
            "How much is[ {amount}][ {from_currency}][ in {to_currency}]?",
            "I'm traveling soon and need to exchange[ {amount}][ {from_currency}][ into {to_currency}]. "
            "What would I get?",
            "Could you please convert[ {amount}][ {from_currency}][ to {to_currency}] at today's rate?",
            "fx[ {amount}][ {from_currency}][ to {to_currency}]",
        ),
        ("That comes to {x_price}[ {to_currency}] at today's rate.",),
    ),
    tool(
        "search_flights", "travel", "flight search", "search for flights",
        "Search for available flights between two cities on a date.",
        (
            required("origin", "string", "Departure city.", one_of(CITIES),
                      "Which city will you be flying from?"),
            required("destination", "string", "Arrival city.", other_than(CITIES, "origin"),
                      "Where would you like to fly to?"),
            required("departure_date", "string", "Date in YYYY-MM-DD format.", one_of(DATES),
                      "What date would you like to depart?"),
            optional_choice("cabin_class", "Cabin class.", ("economy", "premium", "business", "first"),
                             "in {cabin_class} class", default="economy"),
            optional("passengers", "integer", "Number of passengers.", integer(2, 6),
                      "for {passengers} passengers", default=1),
        ),
        (
            "Find flights[ from {origin}][ to {destination}][ on {departure_date}].",
            "flights[ {origin}][ to {destination}][ {departure_date}]",
            "Could you please look for flights[ from {origin}][ to {destination}]"
            "[ departing {departure_date}]?",
            "I need to get to a conference[ in {destination}]. Are there any flights[ out of {origin}]"
            "[ on {departure_date}][ in {cabin_class} class]?",
            "What flights are available[ from {origin}][ to {destination}][ on {departure_date}]"
            "[ for {passengers} passengers]?",
        ),
        (
            "There's a nonstop flight[ from {origin}][ to {destination}] leaving at {x_clock} "
            "for {x_price} dollars.",
        ),
    ),
    tool(
        "search_hotels", "travel", "hotel search", "search for hotels",
        "Search for hotel rooms in a city for a stay.",
        (
            required("city", "string", "City to stay in.", one_of(CITIES),
                      "Which city are you looking for a hotel in?"),
            required("check_in", "string", "Check-in date, YYYY-MM-DD.", one_of(DATES),
                      "What's your check-in date?"),
            required("nights", "integer", "Number of nights.", integer(2, 14),
                      "How many nights will you be staying?"),
            optional("guests", "integer", "Number of guests.", integer(2, 5), "for {guests} guests",
                      default=1),
            optional("max_price", "number", "Highest nightly price.", decimal(60, 600, 0),
                      "under {max_price} per night"),
        ),
        (
            "Find me a hotel[ in {city}][ from {check_in}][ for {nights} nights].",
            "hotel[ {city}][ {check_in}][ {nights} nights]",
            "Could you search for hotels[ in {city}][ checking in on {check_in}][ for {nights} nights]"
            ", please?",
            "I'm visiting family[ in {city}]. Can you find somewhere to stay[ starting {check_in}]"
            "[ for {nights} nights][ under {max_price} per night]?",
        ),
        ("The Grand Central Hotel[ in {city}] has a room available for {x_price} dollars per night.",),
    ),
    tool(
        "get_flight_status", "travel", "flight status", "check flight status",
        "Get the live status of a flight.",
        (
            required("flight_number", "string", "Airline code and number, e.g. BA117.", flight_number,
                      "What's the flight number?"),
            optional("date", "string", "Date of the flight, YYYY-MM-DD.", one_of(DATES), "on {date}"),
        ),
        (
            "Is my flight[ {flight_number}] on time?",
            "flight status[ {flight_number}]",
            "Could you check whether my flight[ {flight_number}] has been delayed?",
            "I'm picking my sister up at the airport. Has her flight[ {flight_number}] landed yet?",
            "What's the current status of the flight[ {flight_number}][ on {date}]?",
        ),
        ("Flight[ {flight_number}] is on time and scheduled to land at {x_clock}.",),
    ),
    tool(
        "create_calendar_event", "calendar", "calendar events", "add events to a calendar",
        "Create an event in the user's calendar.",
        (
            required("title", "string", "Event title.", one_of(EVENT_TITLES),
                      "What should the event be called?"),
            required("date", "string", "Date, YYYY-MM-DD.", one_of(DATES),
                      "Which date should I put the event on?"),
            required("start_time", "string", "Start time, HH:MM (24h).", one_of(TIMES),
                      "What time should the event start?"),
            optional("duration_minutes", "integer", "Length in minutes.", one_of((15, 30, 45, 60, 90, 120)),
                      "for {duration_minutes} minutes", default=60),
            optional("location", "string", "Where it takes place.", one_of(LOCATIONS), "in {location}"),
        ),
        (
            'Add an event[ "{title}"] to my calendar[ on {date}][ at {start_time}].',
            'new event[ "{title}"][ {date}][ {start_time}]',
            'Could you please schedule an event[ called "{title}"][ for {date}][ at {start_time}]?',
            'I keep forgetting things. Put an event[ named "{title}"] in my calendar[ on {date}]'
            "[ starting at {start_time}][ for {duration_minutes} minutes].",
        ),
        ("Done! I've added the event to your calendar[ on {date}][ at {start_time}].",),
    ),
    tool(
        "list_calendar_events", "calendar", "calendar lookups", "look up your calendar events",
        "List the events in the user's calendar on a day.",
        (
            required("date", "string", "Date, YYYY-MM-DD.", one_of(DATES),
                      "Which day would you like to see your schedule for?"),
            optional_choice("calendar", "Which calendar.", ("work", "personal", "family"),
                             "on my {calendar} calendar", default="work"),
        ),
        (
            "What's on my calendar[ for {date}]?",
            "agenda[ {date}]",
            "Could you list my meetings[ on {date}], please?",
            "I'm trying to plan a dentist visit. Am I free[ on {date}]?",
            "Show me everything scheduled[ for {date}][ on my {calendar} calendar].",
        ),
        ("You have {x_small} events[ on {date}]; the first one starts at {x_clock}.",),
    ),
    tool(
        "set_reminder", "calendar", "reminders", "set reminders",
        "Set a reminder that notifies the user at a given date and time.",
        (
            required("task", "string", "What to be reminded about.", one_of(TASKS),
                      "What would you like me to remind you about?"),
            required("date", "string", "Date, YYYY-MM-DD.", one_of(DATES),
                      "Which day should I remind you?"),
            required("time", "string", "Time, HH:MM (24h).", one_of(TIMES),
                      "What time should the reminder go off?"),
        ),
        (
            "Remind me[ to {task}][ on {date}][ at {time}].",
            "reminder[ {task}][ {date}][ {time}]",
            "Could you set a reminder[ to {task}][ for {date}][ at {time}]?",
            "I always forget these things. Please ping me[ on {date}][ at {time}][ to {task}].",
        ),
        ("Reminder set[ for {date}]! I'll make sure you don't forget.",),
    ),
    tool(
        "send_email", "email", "sending email", "send emails",
        "Send an email from the user's account.",
        (
            required("recipient", "string", "Recipient email address.", one_of(EMAILS),
                      "Who should I send the email to?"),
            required("subject", "string", "Subject line.", one_of(SUBJECTS),
                      "What should the subject line be?"),
            optional("body", "string", "Message text.", one_of(EMAIL_BODIES), 'saying "{body}"'),
        ),
        (
            'Send an email[ to {recipient}][ with the subject "{subject}"].',
            'email[ {recipient}][ re "{subject}"]',
            'Could you please write an email[ to {recipient}][ about "{subject}"]?',
            "I need to follow up with a colleague. Send a message[ to {recipient}]"
            '[ titled "{subject}"][ saying "{body}"].',
        ),
        ("I've sent the email[ to {recipient}] and it was delivered successfully.",),
    ),
    tool(
        "search_emails", "email", "mailbox search", "search your mailbox",
        "Search the user's mailbox for messages.",
        (
            required("query", "string", "Words to search for.", one_of(MAIL_QUERIES),
                      "What should I search your inbox for?"),
            optional("sender", "string", "Only messages from this address.", one_of(EMAILS),
                      "from {sender}"),
            flag("unread_only", "Only unread messages.", "that are still unread"),
        ),
        (
            'Search my inbox[ for "{query}"].',
            'find emails[ "{query}"]',
            'Could you look through my email[ for anything about "{query}"]?',
            'I can\'t find an important message. Can you search my mail[ for "{query}"][ from {sender}]?',
        ),
        ('I found {x_small} emails[ about "{query}"]; the latest arrived yesterday at {x_clock}.',),
    ),
    tool(
        "search_products", "shopping", "product search", "search an online store",
        "Search an online store's catalogue.",
        (
            required("query", "string", "What to search for.", one_of(PRODUCTS),
                      "What product are you looking for?"),
            optional("max_price", "number", "Highest price.", decimal(20, 900, 0),
                      "under {max_price} dollars"),
            optional_choice("sort_by", "Result order.", ("price", "rating", "newest"), "sorted by {sort_by}",
                             default="rating"),
        ),
        (
            "Search the store[ for {query}].",
            "shop[ {query}]",
            "Could you find some options[ for {query}] I could buy?",
            "My old one just broke. Can you find deals[ on {query}][ under {max_price} dollars]?",
            "Show me the best-rated products[ matching {query}].",
        ),
        ("The top result is the ProMax[ {query}] for {x_price} dollars, rated 4.8 stars.",),
    ),
    tool(
        "add_to_cart", "shopping", "shopping cart", "add items to a shopping cart",
        "Add a product to the user's shopping cart.",
        (
            required("product_name", "string", "Product to add.", one_of(PRODUCTS),
                      "Which product would you like to add to your cart?"),
            required("quantity", "integer", "How many.", integer(1, 10), "How many would you like to add?"),
        ),
        (
            "Add[ {quantity}][ {product_name}] to my cart.",
            "cart add[ {product_name}][ x{quantity}]",
            "Could you put[ {product_name}] in my shopping cart[, quantity {quantity}]?",
            "I'm restocking the office. Please add[ {product_name}] to the cart[ ({quantity} units)].",
        ),
        ("Added! Your cart now has[ {quantity}][ {product_name}] and comes to {x_price} dollars.",),
    ),
    tool(
        "track_order", "logistics", "order tracking", "track online orders",
        "Get the delivery status of an online order.",
        (
            required("order_id", "string", "Order number, e.g. ORD-123456.", code("ORD-", DIGITS, 6),
                      "What's your order number?"),
        ),
        (
            "Where is my order[ {order_id}]?",
            "track order[ {order_id}]",
            "Could you check the delivery status of my order[ {order_id}], please?",
            "I ordered a gift last week and it still hasn't arrived. Can you check on my order[ {order_id}]?",
        ),
        ("Your order[ {order_id}] shipped yesterday and will arrive by {x_clock} tomorrow.",),
    ),
    tool(
        "track_shipment", "logistics", "shipment tracking", "track parcels",
        "Track a parcel by its carrier tracking number.",
        (
            required("tracking_number", "string", "Carrier tracking number.",
                      code("1Z", "0123456789ABCDEFGHJKLMNPRSTVWXYZ", 12), "What's the tracking number?"),
            optional_choice("carrier", "Shipping carrier.", ("UPS", "FedEx", "DHL", "USPS"),
                             "with {carrier}", default="UPS"),
        ),
        (
            "Where is my package[ {tracking_number}]?",
            "track parcel[ {tracking_number}]",
            "Could you check the delivery status[ of tracking number {tracking_number}][ with {carrier}]?",
            "I'm expecting an important delivery today. Has the parcel[ {tracking_number}] left the depot"
            " yet?",
        ),
        ("Your package[ {tracking_number}] is out for delivery and should arrive by {x_clock}.",),
    ),
    tool(
        "estimate_shipping_cost", "logistics", "shipping quotes", "estimate shipping costs",
        "Estimate the cost of shipping a parcel between two cities.",
        (
            required("origin_city", "string", "City it ships from.", one_of(CITIES),
                      "Which city is the package shipping from?"),
            required("destination_city", "string", "City it ships to.", other_than(CITIES, "origin_city"),
                      "Where is the package going?"),
            required("weight_kg", "number", "Parcel weight in kilograms.", decimal(0.2, 30, 1),
                      "How much does the package weigh in kilograms?"),
            optional_choice("service", "Service level.", ("standard", "express", "overnight"),
                             "using {service} service", default="standard"),
        ),
        (
            "How much to ship a package[ from {origin_city}][ to {destination_city}]"
            "[ weighing {weight_kg} kg]?",
            "shipping quote[ {origin_city}][ to {destination_city}][ {weight_kg}kg]",
            "Could you estimate the postage[ for a {weight_kg} kg parcel][ from {origin_city}]"
            "[ to {destination_city}][ using {service} service]?",
            "I'm sending a birthday present to my nephew. What would it cost[ to send {weight_kg} kg]"
            "[ from {origin_city}][ to {destination_city}]?",
        ),
        ("Shipping will cost {x_price} dollars[ to {destination_city}] and take {x_small} business days.",),
    ),
    tool(
        "find_doctor", "health", "doctor search", "find doctors",
        "Find doctors of a specialty in a city.",
        (
            required("specialty", "string", "Medical specialty.", one_of(SPECIALTIES),
                      "What kind of specialist are you looking for?"),
            required("city", "string", "City to search in.", one_of(CITIES),
                      "Which city should I search for doctors in?"),
            optional("insurance", "string", "Insurance the doctor must accept.", one_of(INSURERS),
                      "who accepts {insurance}"),
        ),
        (
            "Find a doctor[ specializing in {specialty}][ in {city}].",
            "doctor[ {specialty}][ {city}]",
            "Could you recommend a doctor[ who does {specialty}][ near {city}]?",
            "My knee has been hurting for weeks. Can you find a specialist[ in {specialty}][ in {city}]"
            "[ who accepts {insurance}]?",
        ),
        ("Dr. {x_name}[ in {city}] has openings next week and is highly rated by patients.",),
    ),
    tool(
        "calculate_bmi", "health", "BMI calculation", "calculate body mass index",
        "Calculate body mass index from weight and height.",
        (
            required("weight_kg", "number", "Weight in kilograms.", decimal(45, 130, 1),
                      "What's your weight in kilograms?"),
            required("height_cm", "number", "Height in centimeters.", decimal(145, 205, 1),
                      "How tall are you in centimeters?"),
        ),
        (
            "Calculate my BMI[: {weight_kg} kg][, {height_cm} cm].",
            "bmi[ {weight_kg}kg][ {height_cm}cm]",
            "[I weigh {weight_kg} kg. ][I am {height_cm} cm tall. ]Could you work out my body mass index?",
            "My doctor mentioned BMI at my checkup. What's mine[ at {weight_kg} kg]"
            "[ with a height of {height_cm} cm]?",
        ),
        ("Your BMI works out to about 2{x_small}.4, which is in the healthy range.",),
    ),
    tool(
        "log_workout", "fitness", "workout logging", "log workouts",
        "Record a workout in the user's fitness log.",
        (
            required("activity", "string", "Type of exercise.", one_of(ACTIVITIES),
                      "What kind of workout did you do?"),
            required("duration_minutes", "integer", "Length in minutes.", integer(10, 120),
                      "How many minutes did the workout last?"),
            optional("calories", "integer", "Calories burned.", integer(80, 900),
                      "burning {calories} calories"),
        ),
        (
            "Log a workout[: {activity}][ for {duration_minutes} minutes].",
            "log[ {activity}][ {duration_minutes} min]",
            "Could you record my[ {activity}] session[ of {duration_minutes} minutes]?",
            "Just got back from the gym! Please track[ {duration_minutes} minutes of] exercise[ ({activity})]"
            "[ burning {calories} calories].",
        ),
        ("Nice work! Your[ {activity}] session is logged and you burned about {x_num}0 calories.",),
    ),
    tool(
        "get_match_score", "sports", "sports scores", "look up sports scores",
        "Get the result of a team's most recent match.",
        (
            required("team", "string", "Team name.", one_of(TEAMS), "Which team's score would you like?"),
            optional("date", "string", "Match date, YYYY-MM-DD.", one_of(DATES), "on {date}"),
        ),
        (
            "What was the score of the[ {team}] game?",
            "score[ {team}]",
            "Could you tell me the result of the last match[ for {team}]?",
            "I missed it last night. Who won the match[ involving {team}][ on {date}]?",
        ),
        ("The match ended 3-1[ to {team}], with the decisive goal after {x_num} minutes.",),
    ),
    tool(
        "get_league_standings", "sports", "league standings", "look up league standings",
        "Get the current table of a sports league.",
        (
            required("league", "string", "League name.", one_of(LEAGUES),
                      "Which league would you like the standings for?"),
            optional("season", "string", "Season, e.g. 2024-25.", one_of(SEASONS),
                      "for the {season} season"),
        ),
        (
            "Show me the[ {league}] standings.",
            "standings[ {league}]",
            "Could you pull up the current league table[ for the {league}]?",
            "My friends and I have a bet. Who is top of the table[ in the {league}]"
            "[ for the {season} season]?",
        ),
        ("Right now the leader[ of the {league}] is ahead by {x_small} points with {x_small} games left.",),
    ),
    tool(
        "play_song", "music", "music playback", "play music",
        "Play a song on the user's speakers.",
        (
            required("song", "string", "Song title.", one_of(tuple(SONGS)),
                      "Which song would you like me to play?"),
            optional("artist", "string", "Artist, to tell songs apart.", artist_of_song, "by {artist}"),
        ),
        (
            'Play a song[: "{song}"].',
            "play song[ {song}]",
            'Could you put on some music[, specifically "{song}"][ by {artist}]?',
            'I\'m cooking dinner and want some music. Please play the track[ "{song}"].',
        ),
        ('Now playing[ "{song}"]. Enjoy the music!',),
    ),
    tool(
        "create_playlist", "music", "playlist creation", "create playlists",
        "Create a playlist of a genre.",
        (
            required("name", "string", "Playlist name.", one_of(PLAYLIST_NAMES),
                      "What would you like to name the playlist?"),
            required("genre", "string", "Music genre.", one_of(GENRES),
                      "What genre should the playlist be?"),
            optional("track_count", "integer", "Number of tracks.", integer(10, 50),
                      "with {track_count} tracks", default=25),
        ),
        (
            'Create a playlist[ called "{name}"][ with {genre} music].',
            'new playlist[ "{name}"][ {genre}]',
            'Could you make me a[ {genre}] playlist[ named "{name}"]?',
            "I have a long drive on Saturday. Please build a playlist[ of {genre}]"
            '[ titled "{name}"][ with {track_count} tracks].',
        ),
        ('Your playlist[ "{name}"] is ready with {x_num} songs.',),
    ),
    tool(
        "get_directions", "maps", "directions", "get directions",
        "Get a route between two places.",
        (
            required("origin", "string", "Starting point.", one_of(CITIES),
                      "Where will you be starting from?"),
            required("destination", "string", "Where to go.", other_than(CITIES, "origin"),
                      "Where would you like to go?"),
            optional_choice("mode", "Travel mode.", ("car", "foot", "transit", "bike"), "by {mode}",
                             default="car"),
        ),
        (
            "How do I get[ from {origin}][ to {destination}]?",
            "directions[ {origin}][ to {destination}]",
            "Could you give me directions[ from {origin}][ to {destination}][ by {mode}], please?",
            "We're road-tripping this summer. What's the best route[ from {origin}][ to {destination}]?",
        ),
        (
            "Take the main highway[ from {origin}] and follow the signs[ to {destination}]; "
            "it takes about {x_small} hours.",
        ),
    ),
    tool(
        "find_nearby_places", "maps", "nearby places", "find nearby places",
        "Find places of a type in an area.",
        (
            required("place_type", "string", "Kind of place.", one_of(PLACE_TYPES),
                      "What kind of place are you looking for?"),
            required("city", "string", "City or area.", one_of(CITIES),
                      "Which city or area should I search in?"),
            optional("radius_km", "number", "Search radius in km.", decimal(0.5, 10, 1),
                      "within {radius_km} km", default=2.0),
        ),
        (
            "Search nearby[ for a {place_type}][ in {city}].",
            "nearby[ {place_type}][ {city}]",
            "Could you find the closest options[ for a {place_type}][ in {city}][ within {radius_km} km]?",
            "I just arrived[ in {city}] and I'm looking for something nearby[: a {place_type}]."
            " Any suggestions?",
        ),
        ("There's a great spot only {x_small}00 meters away[ in {city}][ ({place_type})].",),
    ),
    tool(
        "translate_text", "translation", "translation", "translate text",
        "Translate text into another language.",
        (
            required("text", "string", "Text to translate.", one_of(PHRASES),
                      "What text would you like me to translate?"),
            required("target_language", "string", "Language to translate into.", one_of(LANGUAGES),
                      "Which language should I translate it into?"),
            optional("source_language", "string", "Language of the text.", one_of(LANGUAGES),
                      "from {source_language}"),
        ),
        (
            'Translate[ "{text}"][ into {target_language}].',
            'translate[ "{text}"][ to {target_language}]',
            'Could you help me translate something[: "{text}"][ into {target_language}]?',
            "I'm writing to a pen pal. Please translate this message[ into {target_language}]"
            '[ from {source_language}][: "{text}"].',
        ),
        ('Here you go: "{x_phrase}"[ (in {target_language})].',),
    ),
    tool(
        "detect_language", "translation", "language detection", "identify the language of a text",
        "Identify which language a text is written in.",
        (
            required("text", "string", "Text to identify.", one_of(FOREIGN_PHRASES),
                      "What text would you like me to identify the language of?"),
        ),
        (
            'What language is this[: "{text}"]?',
            'detect language[ "{text}"]',
            'Could you tell me which language this sentence is written in[: "{text}"]?',
            "My friend sent me a message and I can't read it[: \"{text}\"]. What language is it?",
        ),
        ("That text is written in {x_lang}.",),
    ),
    tool(
        "convert_units", "units", "unit conversion", "convert units of measurement",
        "Convert a quantity between units of length, mass or volume.",
        (
            required("value", "number", "Quantity to convert.", decimal(1, 500, 1),
                      "What value would you like to convert?"),
            required("from_unit", "string", "Unit of the value.", one_of(UNITS),
                      "Which unit are you converting from?"),
            required("to_unit", "string", "Unit to convert to.", same_group_unit,
                      "Which unit should I convert to?"),
        ),
        (
            "Convert[ {value}][ {from_unit}][ to {to_unit}].",
            "how much is[ {value}][ {from_unit}][ in {to_unit}]",
            "Could you convert[ {value}][ {from_unit}][ into {to_unit}] for me?",
            "I'm following a recipe from abroad. What is[ {value}][ {from_unit}][ in {to_unit}]?",
        ),
        ("That's {x_price}[ {to_unit}].",),
    ),
    tool(
        "calculate_tip", "math", "tip calculation", "calculate tips",
        "Calculate the tip on a bill, optionally split between people.",
        (
            required("bill_amount", "number", "Bill total.", decimal(8, 600, 2), "How much was the bill?"),
            required("tip_percent", "integer", "Tip percentage.", one_of((10, 12, 15, 18, 20, 22, 25)),
                      "What tip percentage would you like to leave?"),
            optional("split_between", "integer", "Number of people paying.", integer(2, 8),
                      "split between {split_between} people", default=1),
        ),
        (
            "Calculate a tip[ of {tip_percent}%][ on {bill_amount}].",
            "tip[ {tip_percent}%][ on {bill_amount}]",
            "Could you work out the tip[ for a bill of {bill_amount}][ at {tip_percent} percent]?",
            "We just finished dinner. How much should we tip[ on {bill_amount}][ at {tip_percent}%]"
            "[ split between {split_between} people]?",
        ),
        ("You should leave {x_price} as the tip[ on {bill_amount}].",),
    ),
    tool(
        "calculate_loan_payment", "loans", "loan payment calculation", "calculate loan payments",
        "Calculate the monthly payment of a fixed-rate loan.",
        (
            required("principal", "number", "Amount borrowed.", decimal(1000, 500000, 0),
                      "How much do you want to borrow?"),
            required("annual_rate", "number", "Annual interest rate in percent.", decimal(1, 12, 2),
                      "What's the annual interest rate?"),
            required("years", "integer", "Loan term in years.", integer(1, 30),
                      "Over how many years will you repay the loan?"),
        ),
        (
            "What would my monthly payment be[ on a {principal} loan][ at {annual_rate}%]"
            "[ over {years} years]?",
            "loan payment[ {principal}][ {annual_rate}%][ {years} years]",
            "Could you calculate the monthly installment[ for borrowing {principal}]"
            "[ at {annual_rate} percent interest][ for {years} years]?",
            "We're looking at buying a house. If we borrow[ {principal}][ at a rate of {annual_rate}%]"
            "[ for {years} years], what would we pay each month?",
        ),
        ("Your monthly payment would be about {x_price}.",),
    ),
    tool(
        "get_news_headlines", "news", "news headlines", "fetch news headlines",
        "Get the top news headlines on a topic.",
        (
            required("topic", "string", "News topic.", one_of(NEWS_TOPICS),
                      "Which topic would you like headlines about?"),
            optional("country", "string", "Country of the news.", one_of(COUNTRIES), "in {country}"),
            optional("limit", "integer", "Number of headlines.", integer(3, 10), "(top {limit})",
                      default=5),
        ),
        (
            "What are the latest headlines[ about {topic}]?",
            "news[ {topic}]",
            "Could you give me today's top stories[ on {topic}][ in {country}]?",
            "I've been offline all week. What's been happening[ in {topic}] lately?",
        ),
        ("The big story today[ in {topic}] is that a major agreement was announced this morning.",),
    ),
    tool(
        "search_news", "news", "news search", "search news articles",
        "Search recent news articles.",
        (
            required("query", "string", "Search terms.", one_of(NEWS_QUERIES),
                      "What should I search the news for?"),
            optional("from_date", "string", "Earliest date, YYYY-MM-DD.", one_of(DATES),
                      "since {from_date}"),
        ),
        (
            'Search the news[ for "{query}"].',
            'news search[ "{query}"]',
            'Could you find recent articles[ about "{query}"][ since {from_date}]?',
            'My professor mentioned something in class. Are there any news reports[ on "{query}"]?',
        ),
        ('There were {x_small} major articles[ about "{query}"] this week, mostly positive.',),
    ),
    tool(
        "search_restaurants", "restaurants", "restaurant search", "search for restaurants",
        "Find restaurants by cuisine in a city.",
        (
            required("cuisine", "string", "Type of food.", one_of(CUISINES),
                      "What type of cuisine are you in the mood for?"),
            required("city", "string", "City to search in.", one_of(CITIES),
                      "Which city should I look for restaurants in?"),
            optional_choice("price_range", "Price level.", ("$", "$$", "$$$"),
                             "in the {price_range} price range", default="$$"),
            flag("vegetarian_friendly", "Only places with vegetarian options.", "with vegetarian options"),
        ),
        (
            "Find a[ {cuisine}] restaurant[ in {city}].",
            "restaurants[ {cuisine}][ {city}]",
            "Could you recommend somewhere to eat[ {cuisine} food][ in {city}]?",
            "It's my anniversary next week. What are some good[ {cuisine}] places[ in {city}]"
            "[ in the {price_range} price range]?",
        ),
        ("You'll love Luna Bistro[ in {city}]; it's the best[ {cuisine}] spot around and rarely busy.",),
    ),
    tool(
        "book_table", "restaurants", "table reservations", "reserve restaurant tables",
        "Reserve a table at a restaurant.",
        (
            required("restaurant", "string", "Restaurant name.", one_of(RESTAURANTS),
                      "Which restaurant would you like to book?"),
            required("date", "string", "Date, YYYY-MM-DD.", one_of(DATES),
                      "What date should the reservation be for?"),
            required("time", "string", "Time, HH:MM (24h).", one_of(TIMES),
                      "What time would you like the table?"),
            required("party_size", "integer", "Number of diners.", integer(2, 10),
                      "How many people will be dining?"),
        ),
        (
            "Book a table[ at {restaurant}][ on {date}][ at {time}][ for {party_size}].",
            "reserve[ {restaurant}][ {date}][ {time}][ {party_size} people]",
            "Could you please make a reservation[ at {restaurant}][ for {party_size} people][ on {date}]"
            "[ at {time}]?",
            "My parents are visiting. Can you get us a table[ at {restaurant}][ for {party_size}][ on {date}]"
            "[ around {time}]?",
        ),
        ("Your table[ at {restaurant}] is confirmed, reference {x_code}.",),
    ),
    tool(
        "get_account_balance", "banking", "account balances", "check account balances",
        "Get the current balance of one of the user's bank accounts.",
        (
            required_choice("account_type", "Which account.", ACCOUNTS,
                             "Which account would you like the balance for?"),
        ),
        (
            "What's the balance[ in my {account_type} account]?",
            "balance[ {account_type}]",
            "Could you check how much money I have[ in my {account_type} account]?",
            "Rent is due tomorrow. Can you tell me my current balance[ for {account_type}]?",
        ),
        ("Your[ {account_type}] balance is {x_price} dollars.",),
    ),
    tool(
        "transfer_funds", "banking", "money transfers", "transfer money between accounts",
        "Move money between two of the user's accounts.",
        (
            required("amount", "number", "Amount to move.", decimal(5, 5000, 2),
                      "How much would you like to transfer?"),
            required("from_account", "string", "Account to take the money from.",
                      one_of(TRANSFER_ACCOUNTS), "Which account should the money come from?"),
            required("to_account", "string", "Account to put the money in.",
                      other_than(TRANSFER_ACCOUNTS, "from_account"),
                      "Which account should receive the money?"),
            optional("memo", "string", "Note on the transfer.", one_of(MEMOS), 'with the note "{memo}"'),
        ),
        (
            "Transfer[ {amount}][ from {from_account}][ to {to_account}].",
            "move[ {amount}][ {from_account}][ to {to_account}]",
            "Could you please move[ {amount} dollars][ from my {from_account} account]"
            "[ into my {to_account} account]?",
            "I want to save more this month. Send[ {amount}][ from {from_account}][ over to {to_account}]"
            '[ with the note "{memo}"].',
        ),
        ("Done! I transferred the money[ to your {to_account} account]; confirmation {x_code}.",),
    ),
    tool(
        "list_transactions", "banking", "transaction history", "list bank transactions",
        "List the transactions of an account since a date.",
        (
            required_choice("account_type", "Which account.", ACCOUNTS,
                             "Which account's transactions would you like to see?"),
            required("start_date", "string", "First date, YYYY-MM-DD.", one_of(DATES),
                      "From what date should I list transactions?"),
            optional("min_amount", "number", "Only transactions above this amount.", decimal(10, 500, 0),
                      "over {min_amount}"),
        ),
        (
            "Show my transactions[ in {account_type}][ since {start_date}].",
            "transactions[ {account_type}][ since {start_date}]",
            "Could you list the payments[ on my {account_type} account][ from {start_date} onwards]?",
            "Something looks off in my budget. What did I spend[ on my {account_type} account]"
            "[ after {start_date}][ over {min_amount}]?",
        ),
        ("You made {x_small} purchases[ since {start_date}], the largest being {x_price} dollars.",),
    ),
    tool(
        "set_thermostat", "smart_home", "thermostat control", "control the thermostat",
        "Set the target temperature of a room's thermostat.",
        (
            required("room", "string", "Room name.", one_of(ROOMS),
                      "Which room's thermostat should I adjust?"),
            required("temperature", "integer", "Target temperature in degrees.", integer(16, 28),
                      "What temperature would you like to set?"),
            optional_choice("mode", "Thermostat mode.", ("heat", "cool", "auto"), "in {mode} mode",
                             default="auto"),
        ),
        (
            "Set the thermostat[ in the {room}][ to {temperature} degrees].",
            "thermostat[ {room}][ {temperature}]",
            "Could you make it warmer[ in the {room}][, around {temperature} degrees]?",
            "It's freezing in here. Please change the temperature[ in the {room}][ to {temperature}]"
            "[ in {mode} mode].",
        ),
        ("The[ {room}] thermostat is now set and the room will reach the target in {x_small}0 minutes.",),
    ),
    tool(
        "control_lights", "smart_home", "lighting control", "control the lights",
        "Switch a room's lights on or off.",
        (
            required("room", "string", "Room name.", one_of(ROOMS),
                      "Which room's lights should I change?"),
            required_choice("state", "On or off.", ("on", "off"), "Should I turn the lights on or off?"),
            optional("brightness", "integer", "Brightness percentage.", integer(10, 100),
                      "at {brightness}% brightness", default=100),
        ),
        (
            "Turn[ {state}] the lights[ in the {room}].",
            "lights[ {state}][ {room}]",
            "Could you switch the lights[ {state}][ in the {room}], please?",
            "I'm heading to bed soon. Please turn[ {state}] the[ {room}] lights"
            "[ at {brightness}% brightness].",
        ),
        ("The lights[ in the {room}] have been updated.",),
    ),
    tool(
        "lock_door", "smart_home", "door locks", "lock doors",
        "Lock one of the home's smart door locks.",
        (required_choice("door", "Which door.", DOORS, "Which door would you like me to lock?"),),
        (
            "Lock the[ {door}] door.",
            "lock[ {door}] door",
            "Could you make sure the[ {door}] door is locked?",
            "I think I forgot to lock up before leaving. Please lock the[ {door}] door for me.",
        ),
        ("The[ {door}] door is locked and the alarm is armed.",),
    ),
    tool(
        "request_time_off", "hr", "time-off requests", "submit time-off requests",
        "Submit a leave request to the HR system.",
        (
            required("start_date", "string", "First day off, YYYY-MM-DD.", one_of(DATES[:330]),
                      "What's the first day of your time off?"),
            required("end_date", "string", "Last day off, YYYY-MM-DD.", days_after("start_date", 0, 14),
                      "What's the last day of your time off?"),
            required_choice("leave_type", "Kind of leave.", ("vacation", "sick", "personal", "parental"),
                             "What type of leave is this?"),
            optional("note", "string", "Note for the approver.", one_of(LEAVE_NOTES),
                      'with the note "{note}"'),
        ),
        (
            "Request[ {leave_type}] leave[ from {start_date}][ to {end_date}].",
            "time off[ {leave_type}][ {start_date}][ to {end_date}]",
            "Could you submit a time-off request[ for {leave_type} leave][ from {start_date}]"
            "[ until {end_date}]?",
            "My sister is getting married. Please book[ {leave_type}] time off[ starting {start_date}]"
            "[ and ending {end_date}].",
        ),
        ("Your time off[ from {start_date}] has been approved by your manager.",),
    ),
    tool(
        "lookup_employee", "hr", "employee directory", "look up employees in the company directory",
        "Look up a colleague in the company directory.",
        (
            required("name", "string", "Full name.", one_of(PEOPLE),
                      "Which employee would you like to look up?"),
            optional_choice("field", "Only this detail.", ("email", "phone", "department", "manager"),
                             "(just their {field})", default="email"),
        ),
        (
            "Look up[ {name}] in the company directory.",
            "directory[ {name}]",
            "Could you pull up the employee record[ for {name}][ (just their {field})]?",
            "I need to reach a colleague in another team. Can you look them up in the directory[: {name}]?",
        ),
        ("That colleague[, {name},] works in Finance; you can reach them at extension {x_num}{x_small}.",),
    ),
    tool(
        "find_showtimes", "movies", "movie showtimes", "find movie showtimes",
        "Find cinema showtimes for a movie in a city.",
        (
            required("movie", "string", "Movie title.", one_of(MOVIES),
                      "Which movie would you like showtimes for?"),
            required("city", "string", "City to search in.", one_of(CITIES),
                      "Which city should I check showtimes in?"),
            optional("date", "string", "Date, YYYY-MM-DD.", one_of(DATES), "on {date}"),
        ),
        (
            "What are the showtimes[ for {movie}][ in {city}]?",
            "showtimes[ {movie}][ {city}]",
            'Could you check when the movie[ "{movie}"] is on[ in {city}][ on {date}]?',
            'We want a movie night out. Which cinemas are showing the film[ "{movie}"][ in {city}]?',
        ),
        ("The film is showing[ in {city}] at {x_clock} and again later tonight.",),
    ),
    tool(
        "find_recipe", "cooking", "recipe search", "find recipes",
        "Find recipes that use an ingredient.",
        (
            required("ingredient", "string", "Main ingredient.", one_of(INGREDIENTS),
                      "Which ingredient would you like the recipe to use?"),
            optional_choice("diet", "Dietary restriction.", ("vegetarian", "vegan", "gluten-free", "keto"),
                             "that is {diet}"),
            optional("max_minutes", "integer", "Longest cooking time.", integer(10, 90),
                      "in under {max_minutes} minutes"),
        ),
        (
            "Find a recipe[ with {ingredient}].",
            "recipe[ {ingredient}]",
            "Could you suggest something to cook[ using {ingredient}][ in under {max_minutes} minutes]?",
            "I have a fridge full of leftovers. What can I make[ with {ingredient}][ that is {diet}]?",
        ),
        (
            "Try a quick stir-fry[ with {ingredient}]: cook everything with garlic and soy sauce for "
            "{x_small} minutes.",
        ),
    ),
    tool(
        "search_rentals", "real_estate", "rental listings", "search rental listings",
        "Search apartments for long-term rent.",
        (
            required("city", "string", "City to rent in.", one_of(CITIES),
                      "Which city are you looking to rent in?"),
            required("bedrooms", "integer", "Number of bedrooms.", integer(2, 5),
                      "How many bedrooms do you need?"),
            optional("max_rent", "number", "Highest monthly rent.", decimal(500, 5000, 0),
                      "under {max_rent} a month"),
        ),
        (
            "Find apartments for rent[ in {city}][ with {bedrooms} bedrooms].",
            "rentals[ {city}][ {bedrooms}br]",
            "Could you look for rental listings[ in {city}][ that have {bedrooms} bedrooms]"
            "[ under {max_rent} a month]?",
            "I'm relocating for a new job. What apartments are available[ in {city}]"
            "[ with {bedrooms} bedrooms]?",
        ),
        ("There's a bright apartment available[ in {city}] for {x_price} a month, close to transit.",),
    ),
    tool(
        "define_word", "dictionary", "dictionary lookups", "look up word definitions",
        "Get the dictionary definition of a word.",
        (
            required("word", "string", "The word.", one_of(WORDS), "Which word would you like defined?"),
            optional("language", "string", "Language of the definition.", one_of(LANGUAGES),
                      "in {language}", default="English"),
        ),
        (
            'Give me the definition[ of "{word}"].',
            "define[ {word}]",
            'Could you tell me what the word[ "{word}"] means?',
            'I came across an unfamiliar word in a book[: "{word}"]. What does it mean?',
        ),
        ('That word[, "{word}",] means a feeling of quiet contentment and is mostly used in formal'
         " writing.",),
    ),
    tool(
        "get_local_time", "time", "world clock", "check the local time",
        "Get the current local time in a city.",
        (
            required("city", "string", "City name.", one_of(CITIES),
                      "Which city would you like the local time for?"),
        ),
        (
            "What time is it[ in {city}]?",
            "local time[ {city}]",
            "Could you tell me the current local time[ in {city}]?",
            "I need to call a client overseas. Is it too late to ring them[ in {city}] right now?",
        ),
        ("It's currently {x_clock}[ in {city}].",),
    ),
    tool(
        "convert_timezone", "time", "time zone conversion", "convert times between time zones",
        "Convert a clock time from one city's time zone to another's.",
        (
            required("time", "string", "Time, HH:MM (24h).", one_of(TIMES),
                      "What time would you like to convert?"),
            required("from_city", "string", "City the time is given in.", one_of(CITIES),
                      "Which city's time zone is that time in?"),
            required("to_city", "string", "City to convert to.", other_than(CITIES, "from_city"),
                      "Which city's time zone should I convert it to?"),
        ),
        (
            "Convert[ {time}][ {from_city} time][ to {to_city} time].",
            "tz[ {time}][ {from_city}][ to {to_city}]",
            "Could you convert a meeting time[ of {time}][ in {from_city}][ to {to_city} time]?",
            "I'm scheduling a video call with colleagues abroad. What would[ {time}][ {from_city} time] be"
            "[ in {to_city}]?",
        ),
        ("That would be {x_clock}[ in {to_city}].",),
    ),
    tool(
        "book_ride", "rides", "ride booking", "book rides",
        "Book a car to take the user from one place to another.",
        (
            required("pickup", "string", "Pickup location.", one_of(LANDMARKS),
                      "Where should the driver pick you up?"),
            required("dropoff", "string", "Drop-off location.", other_than(LANDMARKS, "pickup"),
                      "Where would you like the ride to take you?"),
            optional_choice("ride_type", "Kind of car.", ("standard", "xl", "premium"),
                             "as a {ride_type} ride", default="standard"),
        ),
        (
            "Book a ride[ from {pickup}][ to {dropoff}].",
            "ride[ {pickup}][ to {dropoff}]",
            "Could you get me a car[ from {pickup}][ to {dropoff}][ as a {ride_type} ride]?",
            "I'm running late for a meeting. Please order a taxi[ to pick me up at {pickup}]"
            "[ and take me to {dropoff}].",
        ),
        ("Your driver is on the way[ to {pickup}] and will arrive in {x_small} minutes.",),
    ),
    tool(
        "search_jobs", "jobs", "job search", "search job listings",
        "Search job listings by title and city.",
        (
            required("title", "string", "Job title.", one_of(JOB_TITLES),
                      "What kind of job are you looking for?"),
            required("city", "string", "City to work in.", one_of(CITIES),
                      "Which city should I search for jobs in?"),
            flag("remote_only", "Only fully remote jobs.", "that are fully remote"),
        ),
        (
            "Find[ {title}] jobs[ in {city}].",
            "jobs[ {title}][ {city}]",
            "Could you search for openings[ for {title} roles][ in {city}]?",
            "I'm ready for a career change. What positions are open[ for {title} roles][ in {city}]?",
        ),
        ("There are {x_num} open[ {title}] positions[ in {city}], most paying above the market average.",),
    ),
)
# fmt: on

# Domains whose tools could stand in for each other's (a free-text place search finds restaurants, a news
# search finds match results): a cannot_answer row must not offer one for the other, or it would be wrong.
RELATED_DOMAINS = (
    ("restaurants", "maps"),
    ("sports", "news"),
    ("finance", "news"),
    ("finance", "currency"),
    ("banking", "loans"),
    ("health", "fitness"),
    ("translation", "dictionary"),
    ("maps", "rides"),
    ("calendar", "hr"),
    ("travel", "real_estate"),
)
