"""Labelled corpora the router and the follow-up labeller train on (shipped data)."""
