//! Headless Chromium driven over the DevTools protocol, for tests that look at the page
//! as a person would: open a URL, wait for the page's own signal that it has drawn,
//! read the DOM, click, type, and take a screenshot. Chromium is Debian's `chromium`
//! package (`bash .ci/run` installs it); without it a test fails, never skips.
//!
//! It talks only to loopback: the browser's DevTools port, and the pages it is sent to.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any one step may take before the test gives up.
const PATIENCE: Duration = Duration::from_secs(60);

/// What the page sends on `document` once it has drawn a read, or failed to.
pub const WAIT_FOR_REFRESH: &str = "new Promise((resolve) => {
    const done = () => resolve(Number(document.documentElement.dataset.refreshes || 0));
    document.addEventListener('usage-refreshed', done, { once: true });
    document.addEventListener('usage-failed', () => resolve(-1), { once: true });
})";

/// Chromium: Debian's `/usr/bin/chromium`, or `chromium` on the PATH.
pub fn chromium() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromium"))
            .find(|p| p.is_file())
    });
    on_path
        .or_else(|| Some(PathBuf::from("/usr/bin/chromium")).filter(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "`chromium` is not installed: install the Debian package `chromium` \
                 (bash .ci/run does); the page's tests need a real browser"
            )
        })
}

/// A headless Chromium with one page, killed (by its own handle) when dropped.
pub struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Events that arrived while waiting for a command's answer.
    events: Vec<Value>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts Chromium on a fresh profile, and connects to its first page.
    pub async fn start() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                "--disable-quic",
                "--disable-extensions",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1200,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", chromium().display()));
        // Chromium announces its DevTools endpoint on stderr.
        let stderr = child.stderr.take().unwrap();
        let (found_tx, found_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line.find("ws://") {
                    let _ = found_tx.send(line[at..].trim().to_owned());
                }
            }
        });
        let browser_url = found_rx
            .recv_timeout(PATIENCE)
            .expect("chromium did not announce its DevTools endpoint");
        let address = browser_url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let targets: Vec<Value> = reqwest::get(format!("http://{address}/json/list"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let page = targets
            .iter()
            .find(|t| t["type"] == "page")
            .expect("chromium has no page");
        let page_url = page["webSocketDebuggerUrl"].as_str().unwrap().to_owned();
        let (socket, _) = tokio_tungstenite::connect_async(page_url).await.unwrap();
        let mut browser = Browser {
            child,
            _profile: profile,
            socket,
            next_id: 0,
            events: Vec::new(),
        };
        browser.call("Page.enable", json!({})).await;
        browser.call("Runtime.enable", json!({})).await;
        browser
    }

    /// Sends a DevTools command and returns its result; an error answer fails the test.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
        loop {
            let message = self.receive().await;
            if message["id"] == id {
                if let Some(error) = message.get("error") {
                    panic!("{method} failed: {error}");
                }
                return message["result"].clone();
            }
            self.events.push(message);
        }
    }

    async fn receive(&mut self) -> Value {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("chromium went silent")
                .expect("chromium closed the DevTools connection")
                .unwrap();
            if let Message::Text(text) = next {
                return serde_json::from_str(&text).unwrap();
            }
        }
    }

    /// Waits for an event, including one that already arrived.
    pub async fn event(&mut self, method: &str) -> Value {
        if let Some(at) = self.events.iter().position(|e| e["method"] == method) {
            return self.events.remove(at);
        }
        loop {
            let message = self.receive().await;
            if message["method"] == method {
                return message;
            }
            self.events.push(message);
        }
    }

    /// Opens `url` and waits for its load event.
    pub async fn open(&mut self, url: &str) {
        self.events.clear();
        let navigated = self.call("Page.navigate", json!({ "url": url })).await;
        assert!(
            navigated.get("errorText").is_none(),
            "opening {url}: {navigated}"
        );
        self.event("Page.loadEventFired").await;
    }

    /// Evaluates `expression` in the page, awaiting it if it is a promise; its value.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({
                    "expression": expression,
                    "awaitPromise": true,
                    "returnByValue": true,
                }),
            )
            .await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("evaluating {expression}: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Waits until the page has drawn at least one read: the page's own signal.
    pub async fn wait_until_drawn(&mut self) {
        let drawn = self
            .eval(&format!(
                "document.documentElement.dataset.refreshes ? \
                 Number(document.documentElement.dataset.refreshes) : {WAIT_FOR_REFRESH}"
            ))
            .await;
        assert!(
            drawn.as_i64().unwrap_or(-1) >= 1,
            "the page could not draw: {}",
            self.eval("document.documentElement.dataset.error || ''")
                .await
        );
    }

    /// Waits for the page's next refresh; its count.
    pub async fn next_refresh(&mut self) -> i64 {
        self.eval(WAIT_FOR_REFRESH).await.as_i64().unwrap()
    }

    /// Clicks the element `selector` names, as a mouse does, at its centre.
    pub async fn click(&mut self, selector: &str) {
        let centre = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({selector:?}); \
                 e.scrollIntoView({{ block: 'center' }}); const r = e.getBoundingClientRect(); \
                 return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
            ))
            .await;
        let (x, y) = (centre[0].as_f64().unwrap(), centre[1].as_f64().unwrap());
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            )
            .await;
        }
    }

    /// Focuses `selector` and types `text` into it, as a keyboard does.
    pub async fn type_into(&mut self, selector: &str, text: &str) {
        self.click(selector).await;
        for c in text.chars() {
            self.call("Input.insertText", json!({ "text": c.to_string() }))
                .await;
        }
    }

    /// Sets the viewport, as on a screen `width` CSS pixels wide.
    pub async fn viewport(&mut self, width: u32, height: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .await;
    }

    /// A PNG of the whole page.
    pub async fn screenshot(&mut self, path: &Path) {
        use base64::Engine;
        let metrics = self.call("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1 },
                }),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(path, png).unwrap();
    }
}
