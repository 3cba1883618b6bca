//! The sweep's plot: p50, p99 and p99.9 latency (log scale) against achieved throughput.

use std::path::Path;

use plotters::prelude::*;

use crate::sweep::SweepPoint;

pub const WIDTH_PX: u32 = 900;
pub const HEIGHT_PX: u32 = 560;

/// A plotted line: its legend, colour, and the latency it takes from a sweep point.
type Series = (&'static str, RGBColor, fn(&SweepPoint) -> u64);

pub fn write(path: &Path, title: &str, points: &[SweepPoint]) -> Result<(), String> {
    if points.is_empty() {
        return Err("no sweep point to plot".into());
    }
    let err = |e: &dyn std::fmt::Display| format!("plotting {}: {e}", path.display());
    let series: [Series; 3] = [
        ("p50", BLUE, |p| p.report.latency_us.p50),
        ("p99", RGBColor(230, 120, 0), |p| p.report.latency_us.p99),
        ("p99.9", RED, |p| p.report.latency_us.p999),
    ];
    let x_max = points
        .iter()
        .map(|p| p.report.throughput_ops_per_sec)
        .fold(1.0, f64::max)
        * 1.05;
    let y_max = points
        .iter()
        .flat_map(|p| series.iter().map(move |s| (s.2)(p)))
        .max()
        .unwrap_or(1)
        .max(10) as f64
        * 2.0;
    let root = SVGBackend::new(path, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0f64..x_max, (1f64..y_max).log_scale())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("achieved throughput (ops/s)")
        .y_desc("latency from intended send time (us)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(|e| err(&e))?;
    for (name, color, value) in series {
        let data: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (p.report.throughput_ops_per_sec, value(p).max(1) as f64))
            .collect();
        chart
            .draw_series(LineSeries::new(data.iter().copied(), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                data.iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
            )
            .map_err(|e| err(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
