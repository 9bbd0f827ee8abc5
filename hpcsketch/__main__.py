from hpcsketch.cli import main

raise SystemExit(main())
