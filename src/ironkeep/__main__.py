import sys

from ironkeep.cli import main

sys.exit(main())
