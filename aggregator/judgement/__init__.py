"""Judging complaints and answers: where a complaint goes, what an agency reply is worth."""
