"""counterfactual."""
