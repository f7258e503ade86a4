// lowdose service worker: keeps the app's own files and an offline page, so the app opens
// without a connection, and the public guide (/learn) pages once read, so it can be read
// offline. Pages with the record are never cached (they are `no-store`); check-ins made
// offline wait in the page's outbox (app.js), not here.
"use strict";
var CACHE = "lowdose-shell-v1";
var GUIDE = "lowdose-guide-v1";
var SHELL = ["/static/app.css", "/static/app.js", "/static/htmx.min.js", "/static/icon.svg",
             "/offline"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(SHELL.map(function (url) {
      return fetch(url, {credentials: "omit"}).then(function (response) {
        if (response.ok) { return cache.put(url, response); }
      });
    }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name !== CACHE && name !== GUIDE; })
                            .map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  var guide = url.pathname === "/learn" || url.pathname.indexOf("/learn/") === 0;
  if (guide && !url.search) {
    // Public text with no record in it (searches, which carry the reader's words, are left
    // out): network first, a copy kept for reading offline.
    event.respondWith(fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(GUIDE).then(function (cache) { cache.put(url.pathname, copy); });
      }
      return response;
    }).catch(function () {
      return caches.match(url.pathname).then(function (kept) {
        return kept || caches.match("/offline");
      });
    }));
  } else if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(function () { return caches.match("/offline"); }));
  } else if (url.pathname.indexOf("/static/") === 0) {
    // Network first, so an upgraded server's files win; the cache answers offline.
    event.respondWith(fetch(request).catch(function () { return caches.match(url.pathname); }));
  }
});
