"""``python -m scd_lab.cli ...`` = ``scd-lab ...`` (e.g. under torchrun)."""
import sys

from . import main

sys.exit(main())
