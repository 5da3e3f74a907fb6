"""`python -m em_gen.cli ...` is `em-gen ...`."""
import sys

from em_gen.cli import main

sys.exit(main())
