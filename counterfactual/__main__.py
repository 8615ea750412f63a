"""`python -m counterfactual ...` is the same as the `counterfactual` console script."""

from counterfactual.cli import main

raise SystemExit(main())
