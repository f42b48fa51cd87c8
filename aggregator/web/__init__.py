"""The daemon's one HTTP listener: health, metrics, admin API, dashboard and public intakes."""
