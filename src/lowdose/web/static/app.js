// lowdose in the browser: the idle-timeout warning, the offline check-in outbox, and the
// service worker. No inline script anywhere (the Content-Security-Policy forbids it), so every
// page's behaviour is wired here from data- attributes.
(function () {
  "use strict";

  var WARN_BEFORE_SECONDS = 300;
  var OUTBOX = "lowdose.outbox";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function say(text) {
    var box = document.getElementById("sync-status");
    if (box) { box.textContent = text; }
  }

  // ------------------------------------------------------------------ idle warning
  function startIdleWatch() {
    var idle = parseInt(document.body.getAttribute("data-idle-seconds") || "0", 10);
    if (!idle) { return; }
    var dialog = document.getElementById("idle-warning");
    var minutes = document.getElementById("idle-minutes");
    var stay = document.getElementById("idle-stay");
    var warnTimer = null, endTimer = null;

    function arm() {
      clearTimeout(warnTimer); clearTimeout(endTimer);
      dialog.hidden = true;
      warnTimer = setTimeout(function () {
        minutes.textContent = String(Math.round(WARN_BEFORE_SECONDS / 60));
        dialog.hidden = false;
        stay.focus();
      }, Math.max(0, idle - WARN_BEFORE_SECONDS) * 1000);
      endTimer = setTimeout(function () {
        window.location.assign("/signin?expired=1");
      }, idle * 1000);
    }

    stay.addEventListener("click", function () {
      fetch("/session/keepalive", {method: "POST", credentials: "same-origin",
                                   headers: {"X-CSRF-Token": csrfToken()}})
        .then(function (response) {
          if (response.ok) { arm(); } else { window.location.assign("/signin?expired=1"); }
        })
        .catch(function () { arm(); });
    });
    document.addEventListener("lowdose:server-touched", arm);
    arm();
  }

  // ------------------------------------------------------------------ outbox
  // A check-in is put in the outbox (localStorage) with an idempotency key made here, then
  // sent. It leaves the outbox only when the server answered: a check-in sent twice (the
  // answer was lost, the page reloaded) is stored once, because the key is the same.
  function readOutbox() {
    try { return JSON.parse(localStorage.getItem(OUTBOX) || "[]"); } catch (e) { return []; }
  }

  function writeOutbox(items) { localStorage.setItem(OUTBOX, JSON.stringify(items)); }

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function currentPatient() {
    var meta = document.querySelector('meta[name="lowdose-patient"]');
    return meta ? meta.getAttribute("content") : null;
  }

  var flushing = false, again = false;
  function flushOutbox() {
    var patient = currentPatient();
    if (!patient) { return Promise.resolve(); }
    if (flushing) { again = true; return Promise.resolve(); }
    // Only this user's own entries: another person signing in on this browser never sends
    // someone else's check-in.
    var mine = readOutbox().filter(function (item) { return item.patient === patient; });
    if (!mine.length) { return Promise.resolve(); }
    flushing = true;
    var chain = Promise.resolve();
    mine.forEach(function (item) {
      chain = chain.then(function () { return send(item); });
    });
    return chain.finally(function () {
      flushing = false;
      // A check-in saved while others were being sent goes now, not on the next page.
      if (again) { again = false; flushOutbox(); }
    });
  }

  function send(item) {
    return fetch(item.url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Idempotency-Key": item.key,
                "X-CSRF-Token": csrfToken(), "Accept": "application/json"},
      body: JSON.stringify(item.body)
    }).then(function (response) {
      document.dispatchEvent(new Event("lowdose:server-touched"));
      if (response.status === 401 || response.status === 403) {
        say("Sign in again to send the check-in saved on this device.");
        return;
      }
      if (response.status >= 500) {
        say("The server had a problem. Your check-in is kept on this device and will be " +
            "sent again.");
        return;
      }
      drop(item.key);  // stored, or refused for good (the answer says why)
      return response.json().then(function (answer) {
        say(response.ok ? answer.message : "Not saved: " + answer.message);
        if (response.ok) { document.dispatchEvent(new CustomEvent("lowdose:checkin-saved")); }
      });
    }, function () {
      say("You are offline. Your check-in is kept on this device and will be sent " +
          "when you are back online.");
    });
  }

  function drop(key) {
    writeOutbox(readOutbox().filter(function (item) { return item.key !== key; }));
  }

  function checkinBody(form) {
    var data = new FormData(form);
    var ratings = {};
    form.querySelectorAll("[data-rating]").forEach(function (input) {
      if (input.value !== "") { ratings[input.getAttribute("data-rating")] = Number(input.value); }
    });
    var effects = [];
    form.querySelectorAll("[data-side-effect]").forEach(function (select) {
      if (select.value !== "") {
        effects.push({name: select.getAttribute("data-side-effect"), severity: Number(select.value)});
      }
    });
    var other = (data.get("other_side_effect") || "").trim();
    if (other) {
      effects.push({name: other, severity: Number(data.get("other_severity") || 1)});
    }
    var body = {date: data.get("date"), dose_taken: data.get("dose_taken") === "yes",
                ratings: ratings, side_effects: effects};
    if (data.get("dose_mg")) { body.dose_mg = Number(data.get("dose_mg")); }
    if (data.get("dose_time")) { body.dose_time = data.get("dose_time"); }
    if ((data.get("note") || "").trim()) { body.note = data.get("note"); }
    return body;
  }

  function wireCheckinForm() {
    var form = document.getElementById("checkin-form");
    if (!form) { return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var item = {key: newKey(), url: form.getAttribute("data-json-action"),
                  patient: form.getAttribute("data-patient"), body: checkinBody(form)};
      var items = readOutbox();
      items.push(item);
      writeOutbox(items);
      say("Sending your check-in…");
      flushOutbox();
    });
  }

  // Signing out leaves nothing of this person's record on the device: a check-in still waiting
  // is deleted, after one warning (the first press says so; the second signs out).
  function wireSignOut() {
    var form = document.querySelector("form.signout");
    var patient = currentPatient();
    if (!form || !patient) { return; }
    var warned = false;
    form.addEventListener("submit", function (event) {
      var waiting = readOutbox().filter(function (item) { return item.patient === patient; });
      if (waiting.length && !warned) {
        event.preventDefault();
        warned = true;
        say(waiting.length + (waiting.length === 1 ? " check-in has" : " check-ins have") +
            " not reached the server yet. Signing out deletes " +
            (waiting.length === 1 ? "it" : "them") + " from this device: press Sign out " +
            "again to do that, or stay signed in until you are back online.");
        return;
      }
      writeOutbox(readOutbox().filter(function (item) { return item.patient !== patient; }));
    });
  }

  // ------------------------------------------------------------------ service worker
  function registerServiceWorker() {
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/sw.js", {scope: "/"}).catch(function () {});
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    startIdleWatch();
    wireCheckinForm();
    wireSignOut();
    registerServiceWorker();
    window.addEventListener("online", flushOutbox);
    flushOutbox();
  });
  // For tests and curious users: what is waiting to be sent.
  window.lowdoseOutbox = readOutbox;
}());
