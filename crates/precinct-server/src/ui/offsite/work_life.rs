//! `/work-life`: the team's off-duty hours under grants per week, as a
//! line chart drawn on the server (inline SVG, one series per officer, the
//! department's threshold as a dashed line), a table of the same numbers,
//! and the officers past the threshold this week.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::asker;
use crate::service::offsite::WorkLifeChart;
use crate::state::AppState;
use crate::ui::admin::invalid;
use crate::ui::page::{failure, pages, render, service_error_page, Chrome, Flash};
use crate::ui::session::ActiveSession;

/// The chart's drawing area, in SVG user units.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 36.0;

/// Colours that stay apart for the common kinds of colour blindness
/// (Okabe and Ito).
const PALETTE: [&str; 8] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000", "#f0e442",
];

#[derive(Debug, Clone)]
struct Dot {
    x: String,
    y: String,
    title: String,
}

#[derive(Debug, Clone)]
struct Series {
    name: String,
    colour: &'static str,
    /// The polyline's `points`.
    points: String,
    dots: Vec<Dot>,
    /// The hours per week, for the table.
    hours: Vec<String>,
    this_week: String,
    warning: bool,
}

#[derive(Debug, Clone)]
struct Tick {
    at: String,
    label: String,
}

#[derive(Template)]
#[template(path = "offsite/work_life.html")]
struct WorkLifePage {
    chrome: Chrome,
    flash: Option<Flash>,
    weeks: u32,
    week_labels: Vec<Tick>,
    y_ticks: Vec<Tick>,
    threshold: String,
    threshold_y: String,
    series: Vec<Series>,
    /// How many are past the threshold this week.
    warned: usize,
    /// Geometry the template needs.
    width: f64,
    height: f64,
    left: f64,
    right_x: f64,
    bottom_y: f64,
}

pages!(WorkLifePage);

fn num(v: f64) -> String {
    format!("{v:.1}")
}

/// Hours as people read them: `7.5`, `8`.
fn hours(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn page_of(chart: &WorkLifeChart, chrome: Chrome, weeks: u32) -> WorkLifePage {
    let n = chart.weeks.len().max(1);
    let highest = chart
        .officers
        .iter()
        .flat_map(|o| o.hours.iter().copied())
        .fold(chart.threshold * 1.25, f64::max)
        .max(1.0);
    // A round top: the next multiple of 2 hours (of 4 past 16).
    let step = if highest > 16.0 { 4.0 } else { 2.0 };
    let top = (highest / step).ceil() * step;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |i: usize| {
        if n == 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |h: f64| TOP + plot_h * (1.0 - h / top);
    let week_labels: Vec<Tick> = chart
        .weeks
        .iter()
        .enumerate()
        .map(|(i, w)| Tick {
            at: num(x(i)),
            label: w.to_string().get(5..10).unwrap_or_default().to_owned(),
        })
        .collect();
    let mut y_ticks = Vec::new();
    let mut h = 0.0;
    while h <= top + f64::EPSILON {
        y_ticks.push(Tick {
            at: num(y(h)),
            label: hours(h),
        });
        h += step;
    }
    let series = chart
        .officers
        .iter()
        .enumerate()
        .map(|(k, o)| {
            let dots: Vec<Dot> = o
                .hours
                .iter()
                .enumerate()
                .map(|(i, h)| Dot {
                    x: num(x(i)),
                    y: num(y(*h)),
                    title: format!(
                        "{}, week of {}: {} h",
                        o.name,
                        week_labels.get(i).map_or("", |t| t.label.as_str()),
                        hours(*h)
                    ),
                })
                .collect();
            Series {
                name: o.name.clone(),
                colour: PALETTE[k % PALETTE.len()],
                points: dots
                    .iter()
                    .map(|d| format!("{},{}", d.x, d.y))
                    .collect::<Vec<_>>()
                    .join(" "),
                dots,
                hours: o.hours.iter().map(|h| hours(*h)).collect(),
                this_week: o.hours.last().map_or_else(String::new, |h| hours(*h)),
                warning: o.warning,
            }
        })
        .collect::<Vec<Series>>();
    WorkLifePage {
        warned: series.iter().filter(|s| s.warning).count(),
        chrome,
        flash: None,
        weeks,
        week_labels,
        y_ticks,
        threshold: hours(chart.threshold),
        threshold_y: num(y(chart.threshold)),
        series,
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        right_x: WIDTH - RIGHT,
        bottom_y: HEIGHT - BOTTOM,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct WorkLifeQuery {
    #[serde(default)]
    weeks: String,
}

/// `GET /work-life?weeks=8`.
pub async fn work_life(
    State(state): State<AppState>,
    session: ActiveSession,
    query: Result<Query<WorkLifeQuery>, QueryRejection>,
) -> Response {
    let chrome = session.chrome.at("work_life");
    let weeks = match query.map(|Query(q)| q.weeks) {
        Ok(w) if w.trim().is_empty() => Ok(8),
        Ok(w) => w
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|w| (1..=26).contains(w))
            .ok_or_else(|| invalid("weeks", "must be 1 to 26")),
        Err(_) => Err(invalid("weeks", "must be 1 to 26")),
    };
    let weeks = match weeks {
        Ok(w) => w,
        Err(e) => {
            let (status, flash) = failure(&state, e);
            let empty = WorkLifeChart {
                weeks: vec![],
                threshold: 0.0,
                officers: vec![],
            };
            let mut page = page_of(&empty, chrome, 8);
            page.flash = Some(flash);
            return render(status, &page);
        }
    };
    match state.services.work_life(asker(&session), weeks).await {
        Ok(chart) => render(StatusCode::OK, &page_of(&chart, chrome, weeks)),
        Err(e) => service_error_page(&state, &chrome, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::offsite::WorkLife;
    use precinct_domain::ids::UserId;
    use precinct_domain::Timestamp;

    #[test]
    fn draws_one_series_per_officer_and_the_threshold() {
        let chart = WorkLifeChart {
            weeks: vec![
                Timestamp::from_micros(0),
                Timestamp::from_micros(7 * 86_400_000_000),
            ],
            threshold: 8.0,
            officers: vec![
                WorkLife {
                    user: UserId::new_random(),
                    name: "Olsen".into(),
                    hours: vec![2.0, 9.5],
                    warning: true,
                },
                WorkLife {
                    user: UserId::new_random(),
                    name: "Park".into(),
                    hours: vec![0.0, 1.25],
                    warning: false,
                },
            ],
        };
        let page = page_of(&chart, test_chrome(), 2);
        assert_eq!(page.series.len(), 2);
        assert_eq!(page.series[0].points, "44.0,198.4 624.0,27.4");
        assert_eq!(page.series[1].this_week, "1.25");
        // 8 h of a 10 h axis (the threshold and a quarter, above 9.5 h).
        assert_eq!(page.threshold_y, "61.6");
        assert_eq!(page.y_ticks.last().map(|t| t.label.as_str()), Some("10"));
        let html = page.render().expect("renders");
        assert!(html.contains("stroke-dasharray"));
        assert!(html.contains("Olsen, week of 01-08: 9.5 h"));
    }

    fn test_chrome() -> Chrome {
        Chrome {
            channel_kind: "workstation",
            channel_text: String::new(),
            user_name: "Sgt".into(),
            csrf: String::new(),
            active: true,
            admin: false,
            auditor: false,
            supervisor: true,
            internal_affairs: false,
            records_clerk: false,
            section: "work_life",
        }
    }
}
