from nova_dpo.cli import main

raise SystemExit(main())
