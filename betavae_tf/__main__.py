"""`python -m betavae_tf ...` runs the `betavae-tf` command line."""

import sys

from betavae_tf.cli import main

sys.exit(main())
