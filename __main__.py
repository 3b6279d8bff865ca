from dangtopic.cli import main

raise SystemExit(main())
