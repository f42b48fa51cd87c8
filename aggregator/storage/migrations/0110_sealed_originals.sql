-- Raw originals, reply addresses and notification bodies encrypted at rest (issue 13).
-- payload_key names the key a raw payload is encrypted with; NULL marks a row written
-- before encryption (plaintext), which `satukanal keys rotate` encrypts in place.
ALTER TABLE raw_items ADD COLUMN payload_key text;

-- A notification's text names the reporter ("Yth. Bapak/Ibu Siti"): kept as ciphertext.
-- body stays for rows written before; rotation moves it into body_enc.
ALTER TABLE notifications ADD COLUMN body_enc bytea;
ALTER TABLE notifications ADD COLUMN body_key text;
