"""`python -m firstseen.tuning > docs/thresholds.md`: the page of every threshold and budget."""

import sys

from firstseen.tuning import thresholds_page

sys.stdout.write(thresholds_page())
