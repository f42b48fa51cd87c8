"""Pydantic models shared by every part of satukanal.

What we build is strict (``extra="forbid"``, frozen where it can be); what we read from
others is tolerant (``extra="ignore"``). Status enums equal the database's labels.
"""
