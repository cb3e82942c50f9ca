"""The performance suite: our components beside their peers, measured in one run."""
