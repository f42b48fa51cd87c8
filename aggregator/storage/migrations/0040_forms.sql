-- Legacy forms: the public status page finds a complaint by its receipt code.
CREATE INDEX complaints_receipt_code_idx ON complaints (source, (origin ->> 'receipt_code'))
    WHERE origin ? 'receipt_code';
