"""The one-command demo: settings and the simulated citizens."""
