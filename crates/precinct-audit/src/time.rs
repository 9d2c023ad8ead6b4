//! Event times for people: microseconds since the Unix epoch as RFC 3339
//! UTC text, without a date-time dependency.

/// `2026-11-01T09:30:00.000001Z`: RFC 3339 in UTC with microseconds.
/// Years outside 0000–9999 are printed as they fall, which RFC 3339 cannot
/// express; Precinct's clock never produces them.
pub fn time_rfc3339(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let micros = us.rem_euclid(1_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Proleptic Gregorian (year, month, day) of a day count from 1970-01-01,
/// after Howard Hinnant's `civil_from_days`: eras of 400 years, with years
/// starting on 1 March so the leap day falls last.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(time_rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(time_rfc3339(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(
            time_rfc3339(951_782_400_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            time_rfc3339(1_700_000_000_123_456),
            "2023-11-14T22:13:20.123456Z"
        );
        assert_eq!(
            time_rfc3339(4_102_444_799_999_999),
            "2099-12-31T23:59:59.999999Z"
        );
        // The extremes do not overflow.
        assert!(time_rfc3339(i64::MIN).ends_with('Z'));
        assert!(time_rfc3339(i64::MAX).ends_with('Z'));
    }

    #[test]
    fn agrees_with_counting_days_one_by_one() {
        fn leap(y: i64) -> bool {
            y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
        }
        let (mut y, mut m, mut d) = (1970i64, 1i64, 1i64);
        for days in 0..150_000 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let len = match m {
                2 if leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
        let (mut y, mut m, mut d) = (1969i64, 12i64, 31i64);
        for days in (-150_000..0).rev() {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            d -= 1;
            if d == 0 {
                m -= 1;
                if m == 0 {
                    m = 12;
                    y -= 1;
                }
                d = match m {
                    2 if leap(y) => 29,
                    2 => 28,
                    4 | 6 | 9 | 11 => 30,
                    _ => 31,
                };
            }
        }
    }
}
