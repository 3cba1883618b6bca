//! The smallest HTTP/1.1 server that serves Prometheus: one request per connection, then
//! `Connection: close`. `GET`/`HEAD /metrics` (a query string is ignored) answers the
//! exposition; another path is `404`, another method `405`, a head that is malformed, too
//! long or too slow `400`/`408`/`431`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Instant;

use super::exposition::{encode, Format};
use super::{Source, IO_TIMEOUT, REQUEST_HEAD_MAX_BYTES};

/// A response before it is written.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: &'static str,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// `HEAD`: send the headers only.
    pub head_only: bool,
    pub allow: bool,
}

impl Response {
    fn text(status: &'static str, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.as_bytes().to_vec(),
            head_only: false,
            allow: false,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = format!(
            "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        if self.allow {
            bytes.extend_from_slice(b"Allow: GET, HEAD\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
        if !self.head_only {
            bytes.extend_from_slice(&self.body);
        }
        bytes
    }
}

/// What the client asked for, or the error to answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    Metrics { format: Format, head_only: bool },
    Error(Response),
}

/// Reads one request and answers it. Errors (a client gone, a timeout) just end the
/// connection.
pub fn serve(mut stream: TcpStream, source: &Source) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let response = match read_head(&mut stream) {
        Ok(head) => match parse(&head) {
            Request::Metrics { format, head_only } => Response {
                status: "200 OK",
                content_type: format.content_type(),
                body: encode(&source.scrape(), format).into_bytes(),
                head_only,
                allow: false,
            },
            Request::Error(response) => response,
        },
        Err(Some(response)) => response,
        Err(None) => return,
    };
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let _ = stream.write_all(&response.to_bytes());
    let _ = stream.shutdown(Shutdown::Write);
}

/// Answers a connection over the limit without reading it.
pub fn refuse_busy(stream: TcpStream) {
    let response = Response::text("503 Service Unavailable", "too many metrics connections\n");
    let _ = stream.set_nonblocking(true);
    let _ = (&stream).write_all(&response.to_bytes());
    let _ = stream.shutdown(Shutdown::Write);
    // Closing with unread input would reset the connection, and the reset may reach the
    // client before it reads the 503: take whatever request bytes are already here.
    let mut sink = [0u8; 1024];
    while matches!((&stream).read(&mut sink), Ok(n) if n > 0) {}
}

/// Reads up to the blank line ending the head, within [`IO_TIMEOUT`] in all. `Err(None)`: the
/// client went away; `Err(Some(_))`: the answer to a head too long or too slow.
fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, Option<Response>> {
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        if let Some(end) = find_head_end(&head) {
            head.truncate(end);
            return Ok(head);
        }
        if head.len() >= REQUEST_HEAD_MAX_BYTES {
            return Err(Some(Response::text(
                "431 Request Header Fields Too Large",
                "request head too long\n",
            )));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Err(Some(Response::text("408 Request Timeout", "too slow\n")));
        }
        let room = (REQUEST_HEAD_MAX_BYTES - head.len()).min(buf.len());
        match stream.read(&mut buf[..room]) {
            Ok(0) => return Err(None),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(Some(Response::text("408 Request Timeout", "too slow\n")))
            }
            Err(_) => return Err(None),
        }
    }
}

/// Length of the head up to its terminating blank line, if it is all here.
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// Reads a request head (request line and headers).
pub fn parse(head: &[u8]) -> Request {
    let bad = || Request::Error(Response::text("400 Bad Request", "bad request\n"));
    let Ok(head) = std::str::from_utf8(head) else {
        return bad();
    };
    let mut lines = head.split("\r\n");
    let mut words = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return bad();
    };
    if !version.starts_with("HTTP/1.") {
        return bad();
    }
    let path = target.split('?').next().unwrap_or("");
    if path != "/metrics" {
        return Request::Error(Response::text("404 Not Found", "not found: try /metrics\n"));
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let mut response = Response::text("405 Method Not Allowed", "use GET\n");
            response.allow = true;
            return Request::Error(response);
        }
    };
    let openmetrics = lines
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("accept"))
        .any(|(_, value)| value.contains("application/openmetrics-text"));
    let format = if openmetrics {
        Format::OpenMetrics
    } else {
        Format::Prometheus
    };
    Request::Metrics { format, head_only }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(request: Request) -> &'static str {
        match request {
            Request::Error(response) => response.status,
            Request::Metrics { .. } => "metrics",
        }
    }

    #[test]
    fn get_metrics_is_answered_in_the_format_asked_for() {
        let plain = parse(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            plain,
            Request::Metrics {
                format: Format::Prometheus,
                head_only: false
            }
        );
        let prometheus = parse(
            b"GET /metrics?x=1 HTTP/1.1\r\naccept: application/openmetrics-text;version=1.0.0,\
              text/plain;version=0.0.4;q=0.5\r\n\r\n",
        );
        assert_eq!(
            prometheus,
            Request::Metrics {
                format: Format::OpenMetrics,
                head_only: false
            }
        );
        assert!(matches!(
            parse(b"HEAD /metrics HTTP/1.0\r\n\r\n"),
            Request::Metrics {
                head_only: true,
                ..
            }
        ));
    }

    #[test]
    fn another_path_is_not_found() {
        assert_eq!(status(parse(b"GET / HTTP/1.1\r\n\r\n")), "404 Not Found");
        assert_eq!(
            status(parse(b"GET /metricsx HTTP/1.1\r\n\r\n")),
            "404 Not Found"
        );
    }

    #[test]
    fn another_method_is_not_allowed() {
        let Request::Error(response) = parse(b"POST /metrics HTTP/1.1\r\n\r\n") else {
            panic!("POST accepted");
        };
        assert_eq!(response.status, "405 Method Not Allowed");
        assert!(String::from_utf8(response.to_bytes())
            .unwrap()
            .contains("Allow: GET, HEAD\r\n"));
    }

    #[test]
    fn a_malformed_request_line_is_a_bad_request() {
        for head in [
            &b"GET /metrics\r\n\r\n"[..],
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics SPDY/3\r\n\r\n",
            b"\xff\xfe /metrics HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(status(parse(head)), "400 Bad Request", "{head:?}");
        }
    }

    #[test]
    fn a_head_response_has_the_length_but_no_body() {
        let response = Response {
            status: "200 OK",
            content_type: "text/plain",
            body: b"abc".to_vec(),
            head_only: true,
            allow: false,
        };
        let bytes = String::from_utf8(response.to_bytes()).unwrap();
        assert!(bytes.contains("Content-Length: 3\r\n"));
        assert!(bytes.ends_with("\r\n\r\n"));
    }
}
