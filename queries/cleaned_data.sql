-- cleaned_data: source_unnormalized -> target_cleaned_data. Whitespace is space, tab, CR, LF;
-- title case is PostgreSQL's initcap.
--   name: the first word of the trimmed full_name, title-cased; NULL or blank -> `missing_name`.
--   age:  the trimmed text as an integer (optional sign, digits only); NULL or blank -> NULL;
--         anything else -> `invalid_age`; outside 0..=130 (however long) -> `age_out_of_range`.
--   city: the trimmed text before the first comma, trimmed and title-cased; blank -> NULL.
-- The first reason in that order wins; the whole source row travels with a rejected row.
WITH trimmed AS (
    SELECT
        record_id,
        full_name,
        age,
        location,
        regexp_replace(full_name, '^[ \t\r\n]+|[ \t\r\n]+$', '', 'g') AS name_text,
        regexp_replace(age, '^[ \t\r\n]+|[ \t\r\n]+$', '', 'g') AS age_text,
        regexp_replace(
            split_part(regexp_replace(location, '^[ \t\r\n]+', '', 'g'), ',', 1),
            '[ \t\r\n]+$', '', 'g'
        ) AS city_text
    FROM source_unnormalized
),
checked AS (
    SELECT
        *,
        -- the digits without sign and leading zeros: '' means zero
        regexp_replace(age_text, '^[+-]?0*', '') AS age_digits,
        CASE
            WHEN name_text IS NULL OR name_text = '' THEN 'missing_name'
            WHEN age_text IS NULL OR age_text = '' THEN NULL
            WHEN NOT age_text ~ '^[+-]?[0-9]+$' THEN 'invalid_age'
            WHEN age_text LIKE '-%' AND regexp_replace(age_text, '^[+-]?0*', '') <> '' THEN 'age_out_of_range'
            WHEN length(regexp_replace(age_text, '^[+-]?0*', '')) > 3 THEN 'age_out_of_range'
            WHEN TRY_CAST(regexp_replace(age_text, '^[+-]?0*', '') AS INT) > 130 THEN 'age_out_of_range'
        END AS reason
    FROM trimmed
)
SELECT
    CAST(record_id AS INT) AS record_id,
    initcap(split_part(regexp_replace(name_text, '[ \t\r\n]+', ' ', 'g'), ' ', 1)) AS name,
    CASE
        WHEN reason IS NULL AND age_text <> '' THEN CAST(COALESCE(TRY_CAST(NULLIF(age_digits, '') AS INT), 0) AS INT)
    END AS age,
    NULLIF(initcap(city_text), '') AS city,
    reason AS _ferry_reject,
    named_struct('record_id', record_id, 'full_name', full_name, 'age', age, 'location', location) AS _ferry_source
FROM checked
