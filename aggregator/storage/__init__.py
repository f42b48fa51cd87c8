"""The one storage layer: the only code that runs SQL on our database."""
