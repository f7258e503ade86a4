// lowdose service worker: keeps the app's own files and an offline page, so the app opens
// without a connection. Pages with the record are never cached (they are `no-store`);
// check-ins made offline wait in the page's outbox (app.js), not here.
"use strict";
var CACHE = "lowdose-shell-v1";
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
    return Promise.all(names.filter(function (name) { return name !== CACHE; })
                            .map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(function () { return caches.match("/offline"); }));
  } else if (url.pathname.indexOf("/static/") === 0) {
    // Network first, so an upgraded server's files win; the cache answers offline.
    event.respondWith(fetch(request).catch(function () { return caches.match(url.pathname); }));
  }
});
