"""Legacy web forms: the old form database (``sql_table``) and a drop-in form endpoint
(``form_http``), with write-back into the old tables so the PHP pages show real progress."""
