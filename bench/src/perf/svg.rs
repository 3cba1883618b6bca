//! `latency.svg`: for each workload and shard count, one panel of p50, p99 and p99.9 latency
//! (log scale, from the intended send time) against achieved throughput, for both servers:
//! memcached in blues with circles, ringcache in reds with triangles; one point per open-loop
//! rate (medians over the repeats). Written with plotters, as the loadgen's sweep plot
//! (loadgen/src/svg.rs), which is tied to the loadgen's internal types and plots one server.

use std::path::Path;

use plotters::prelude::*;

use super::stats::Summary;
use super::summary::{OpenRow, PerServer};
use crate::server::Kind;

pub const PANEL_WIDTH_PX: u32 = 620;
pub const PANEL_HEIGHT_PX: u32 = 420;

/// One line of a panel: `(throughput, latency)` points.
pub struct Line {
    pub server: Kind,
    pub percentile: &'static str,
    pub points: Vec<(f64, f64)>,
}

/// One panel: a workload at a shard count.
pub struct Panel {
    pub title: String,
    pub lines: Vec<Line>,
}

fn median(s: Option<Summary>) -> Option<f64> {
    s.map(|s| s.median)
}

/// The lines of one panel from its open-loop rows (rows of one workload and shard count).
/// Points follow the target rates, so a server that fell short of a rate bends back.
pub fn lines(rows: &[&OpenRow]) -> Vec<Line> {
    let mut by_rate = rows.to_vec();
    by_rate.sort_by_key(|r| r.rate_percent);
    let mut lines = Vec::new();
    for server in [Kind::Memcached, Kind::Ringcache] {
        let pick = |p: &PerServer| match server {
            Kind::Memcached => median(p.memcached),
            Kind::Ringcache => median(p.ringcache),
        };
        type Pick = fn(&OpenRow) -> &PerServer;
        let percentiles: [(&'static str, Pick); 3] = [
            ("p50", |r| &r.latency_us_p50),
            ("p99", |r| &r.latency_us_p99),
            ("p99.9", |r| &r.latency_us_p999),
        ];
        for (percentile, field) in percentiles {
            let points: Vec<(f64, f64)> = by_rate
                .iter()
                .filter_map(|r| Some((pick(&r.achieved_ops_per_sec)?, pick(field(r))?.max(1.0))))
                .collect();
            lines.push(Line {
                server,
                percentile,
                points,
            });
        }
    }
    lines
}

fn color(server: Kind, percentile: &str) -> RGBColor {
    match (server, percentile) {
        (Kind::Memcached, "p50") => RGBColor(120, 170, 230),
        (Kind::Memcached, "p99") => RGBColor(30, 100, 200),
        (Kind::Memcached, _) => RGBColor(10, 30, 110),
        (Kind::Ringcache, "p50") => RGBColor(250, 160, 100),
        (Kind::Ringcache, "p99") => RGBColor(220, 70, 30),
        (Kind::Ringcache, _) => RGBColor(130, 10, 10),
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn draw_panel(area: &Area, panel: &Panel) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("plotting {}: {e}", panel.title);
    let all = || panel.lines.iter().flat_map(|l| l.points.iter());
    let x_max = all().map(|p| p.0).fold(1.0, f64::max) * 1.1;
    let y_max = all().map(|p| p.1).fold(10.0, f64::max) * 2.0;
    let y_min = all().map(|p| p.1).fold(y_max, f64::min).clamp(1.0, 100.0) / 2.0;
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, (y_min.max(0.5)..y_max).log_scale())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("achieved throughput (ops/s)")
        .y_desc("latency (us)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(|e| err(&e))?;
    for line in &panel.lines {
        let c = color(line.server, line.percentile);
        chart
            .draw_series(LineSeries::new(
                line.points.iter().copied(),
                c.stroke_width(2),
            ))
            .map_err(|e| err(&e))?
            .label(format!("{} {}", line.server.name(), line.percentile))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        let points = line.points.iter().copied();
        match line.server {
            Kind::Memcached => chart
                .draw_series(points.map(|p| Circle::new(p, 4, c.filled())))
                .map_err(|e| err(&e))?,
            Kind::Ringcache => chart
                .draw_series(points.map(|p| TriangleMarker::new(p, 5, c.filled())))
                .map_err(|e| err(&e))?,
        };
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 11))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    Ok(())
}

/// Writes the panels in a grid of `columns` columns.
pub fn write(path: &Path, panels: &[Panel], columns: usize) -> Result<(), String> {
    if panels.is_empty() {
        return Err("no open-loop measurement to plot".into());
    }
    let columns = columns.clamp(1, panels.len());
    let rows = panels.len().div_ceil(columns);
    let size = (
        PANEL_WIDTH_PX * columns as u32,
        PANEL_HEIGHT_PX * rows as u32,
    );
    let root = SVGBackend::new(path, size).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("plotting {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    for (area, panel) in root.split_evenly((rows, columns)).iter().zip(panels) {
        draw_panel(area, panel)?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(v: f64) -> Option<Summary> {
        Summary::of(&[v])
    }

    fn row(rate_percent: u32, rate: f64, mc_us: f64, rc_us: f64) -> OpenRow {
        let both = |mc: f64, rc: f64| PerServer {
            memcached: summary(mc),
            ringcache: summary(rc),
            ratio: summary(rc / mc),
        };
        OpenRow {
            workload: crate::perf::workload::Workload::Get90,
            shards_count: 1,
            rate_percent,
            rate_ops_per_sec: rate,
            achieved_ops_per_sec: both(rate, rate * 0.99),
            cpu_us_per_op: both(12.0, 9.0),
            latency_us_p50: both(mc_us, rc_us),
            latency_us_p99: both(mc_us * 4.0, rc_us * 4.0),
            latency_us_p999: both(mc_us * 8.0, rc_us * 8.0),
            machine_floor_us_p999: None,
            runs_count: Default::default(),
            failed_runs_count: Default::default(),
            short_runs_count: Default::default(),
            driver_errors_count: Default::default(),
            driver_errors_by_kind: Default::default(),
            schedule_stalls_count: 0,
            generator_pause_us_max: 0,
        }
    }

    #[test]
    fn six_lines_per_panel_in_rate_order() {
        let rows = [
            row(90, 30_000.0, 200.0, 100.0),
            row(30, 10_000.0, 100.0, 50.0),
        ];
        let refs: Vec<&OpenRow> = rows.iter().collect();
        let lines = lines(&refs);
        assert_eq!(lines.len(), 6);
        let rc_p999 = lines
            .iter()
            .find(|l| l.server == Kind::Ringcache && l.percentile == "p99.9")
            .unwrap();
        assert_eq!(rc_p999.points, vec![(9_900.0, 400.0), (29_700.0, 800.0)]);
    }

    #[test]
    fn the_plot_is_written_with_both_servers_in_its_legend() {
        let rows = [
            row(50, 10_000.0, 100.0, 50.0),
            row(90, 20_000.0, 150.0, 80.0),
        ];
        let refs: Vec<&OpenRow> = rows.iter().collect();
        let panels = [
            Panel {
                title: "90/10, 1 shard".into(),
                lines: lines(&refs),
            },
            Panel {
                title: "90/10, 2 shards".into(),
                lines: lines(&refs),
            },
        ];
        let path = std::env::temp_dir().join(format!("perf-svg-{}.svg", std::process::id()));
        write(&path, &panels, 2).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(svg.starts_with("<svg"));
        for label in [
            "memcached p50",
            "ringcache p99.9",
            "90/10, 2 shards",
            "achieved throughput",
        ] {
            assert!(svg.contains(label), "{label} missing from the plot");
        }
        assert!(write(&path, &[], 1).is_err());
    }
}
