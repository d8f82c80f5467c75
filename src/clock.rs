//! Times and durations in the forms rrctl reads and writes: RFC 3339 UTC with second precision
//! (`YYYY-MM-DDTHH:MM:SSZ`, the only form payloads carry), calendar dates, and short durations
//! such as `24h` or `365d`.

const TIME_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (`@<secs>` outside the representable years).
pub fn format_rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(TIME_FORMAT).ok())
        .unwrap_or_else(|| format!("@{unix}"))
}

/// Parse exactly `YYYY-MM-DDTHH:MM:SSZ` to Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    if s.len() != 20 {
        return None;
    }
    let t = time::PrimitiveDateTime::parse(s, TIME_FORMAT).ok()?;
    Some(t.assume_utc().unix_timestamp())
}

/// Parse a `YYYY-MM-DD` calendar date.
pub fn parse_date(s: &str) -> Option<time::Date> {
    time::Date::parse(s, DATE_FORMAT).ok()
}

/// The current time in Unix seconds.
pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Today's date in UTC, or the date pinned by `RRCTL_TODAY=YYYY-MM-DD` (tests, reproducible CI).
pub fn today() -> Result<time::Date, String> {
    match std::env::var("RRCTL_TODAY") {
        Ok(s) if !s.is_empty() => parse_date(&s).ok_or_else(|| format!("RRCTL_TODAY={s:?} is not a YYYY-MM-DD date")),
        _ => Ok(time::OffsetDateTime::now_utc().date()),
    }
}

/// Parse a duration: `90s`, `30m`, `24h`, `365d`, `2w`, or bare seconds (zero allowed; callers
/// with a minimum check it, e.g. the head expiry policy).
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().map_err(|_| format!("{s:?} is not a duration like 90m, 24h, 365d"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("unknown unit in duration {s:?}; use s, m, h, d or w")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("duration {s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_and_is_strict() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("2026-11-26T17:00:00Z"), Some(1_795_712_400));
        assert_eq!(parse_rfc3339(&format_rfc3339(1_795_712_400)), Some(1_795_712_400));
        assert_eq!(parse_rfc3339("2026-11-26T17:00:00+00:00"), None);
        assert_eq!(parse_rfc3339("2026-11-26T17:00:00.5Z"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("24h"), Ok(86_400));
        assert_eq!(parse_duration("2w"), Ok(1_209_600));
        assert_eq!(parse_duration("0s"), Ok(0));
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("99999999999999999w").is_err());
    }

    #[test]
    fn dates() {
        assert!(parse_date("2027-02-30").is_none());
        assert_eq!(parse_date("2027-02-28").map(|d| d.to_string()), Some("2027-02-28".into()));
    }
}
