"""`python -m eve_bench ...`, the form torchrun and accelerate launch need: `torchrun
--nproc-per-node N -m eve_bench run ...`."""

import sys

from eve_bench.cli import main

sys.exit(main())
