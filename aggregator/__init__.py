"""satukanal: one channel from legacy complaint intakes into SP4N-LAPOR!."""

__version__ = "0.1.0"
