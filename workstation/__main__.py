import sys

from workstation.cli.main import main

sys.exit(main())
