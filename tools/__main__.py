import sys

from tools.commands.cli import main

sys.exit(main())
