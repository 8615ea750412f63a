"""counterfactual/metrics."""
