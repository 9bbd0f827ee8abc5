from hpcsketch.analysis.cli import main

raise SystemExit(main())
