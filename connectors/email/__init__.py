"""The e-mail channel: IMAP and Maildir sources, an SMTP sink, and a pure parser."""
