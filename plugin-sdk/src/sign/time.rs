//! UTC timestamps in the forms the signers put in their headers, without a calendar crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC time to the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtcTime {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix_seconds: i64,
}

impl UtcTime {
    /// The current time from the system (in a plugin: WASI's wall clock).
    pub fn now() -> Self {
        let seconds = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
        };
        Self {
            unix_seconds: seconds,
        }
    }

    /// `YYYYMMDDTHHMMSSZ`, AWS's `X-Amz-Date`.
    pub fn amz_date(self) -> String {
        let (date, (h, m, s)) = (self.date_stamp(), self.clock());
        format!("{date}T{h:02}{m:02}{s:02}Z")
    }

    /// `YYYYMMDD`, the date in an AWS credential scope.
    pub fn date_stamp(self) -> String {
        let (year, month, day) = civil_from_days(self.unix_seconds.div_euclid(86_400));
        format!("{year:04}{month:02}{day:02}")
    }

    /// `YYYYMMDDTHH:MM:SS+0000`, EdgeGrid's timestamp.
    pub fn edgegrid_timestamp(self) -> String {
        let (date, (h, m, s)) = (self.date_stamp(), self.clock());
        format!("{date}T{h:02}:{m:02}:{s:02}+0000")
    }

    fn clock(self) -> (i64, i64, i64) {
        let second_of_day = self.unix_seconds.rem_euclid(86_400);
        (
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60,
        )
    }
}

/// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01, by shifting the
/// year to start in March so the leap day falls last.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_aws_test_suite_time() {
        let time = UtcTime {
            unix_seconds: 1_440_938_160,
        };
        assert_eq!(time.amz_date(), "20150830T123600Z");
        assert_eq!(time.date_stamp(), "20150830");
    }

    #[test]
    fn formats_the_edgegrid_test_data_time() {
        let time = UtcTime {
            unix_seconds: 1_395_430_461,
        };
        assert_eq!(time.edgegrid_timestamp(), "20140321T19:34:21+0000");
    }

    #[test]
    fn handles_a_leap_day_and_the_epoch() {
        let leap = UtcTime {
            unix_seconds: 951_868_799,
        };
        assert_eq!(leap.amz_date(), "20000229T235959Z");
        assert_eq!(UtcTime { unix_seconds: 0 }.amz_date(), "19700101T000000Z");
    }
}
