// Hash routes (#/work/12, #/admin/users): they need nothing from the server, locally or on CloudFront.

export function parseHash(hash = location.hash) {
  const path = hash.replace(/^#/, "") || "/";
  const [pathname, search = ""] = path.split("?");
  const parts = pathname.split("/").filter(Boolean);
  return { path: pathname, parts, query: new URLSearchParams(search) };
}

export function go(path) {
  const target = `#${path}`;
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = target;
}

export function onRoute(listener) {
  const handler = () => listener(parseHash());
  window.addEventListener("hashchange", handler);
  return () => window.removeEventListener("hashchange", handler);
}
