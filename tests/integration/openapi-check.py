#!/usr/bin/env python3
"""openapi-check.py: hold vramd's answers against docs/openapi.json.

Usage: openapi-check.py DOC RECORDS API_SOCKET ROUTES EXEMPT
RECORDS holds the answers openapi.sh collected (N.meta: method, route,
path; N.hdr; N.body).  ROUTES lists "METHOD /route" as the test knows the
server's routes; EXEMPT lists "Schema.field reason" for the fields no
answer here can carry.  This script then asks more itself (curl on
API_SOCKET): each documented request body's fields against the server's
"known fields", and every other method and a few unknown paths for 405
and 404.  Only the standard library is used.
"""
import json
import os
import re
import subprocess
import sys

doc_path, rec_dir, sock, routes_path, exempt_path = sys.argv[1:6]
doc = json.load(open(doc_path))
problems = []
METHODS = ["get", "put", "post", "delete", "patch"]


def problem(msg):
    problems.append(msg)


def deref(s):
    """The schema a $ref names, with the component's name as its label."""
    label = None
    while "$ref" in s:
        label = s["$ref"].rsplit("/", 1)[1]
        node = doc
        for part in s["$ref"][2:].split("/"):
            node = node[part]
        s = node
    return s, label


def merged(s, label):
    """An object schema's properties as {key: (schema, label)}, required and
    whether others may come: allOf branches taken together."""
    props, req, closed = {}, set(), False
    for part in s.get("allOf", [s]):
        p, lab = deref(part)
        lab = lab or label
        if "allOf" in p:
            sub = merged(p, lab)
            props.update(sub[0])
            req |= sub[1]
            closed |= sub[2]
            continue
        for k, v in p.get("properties", {}).items():
            props[k] = (v, lab)
        req |= set(p.get("required", []))
        closed |= p.get("additionalProperties", True) is False
    return props, req, closed


TYPES = {"integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
         "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
         "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
         "null": lambda v: v is None, "array": lambda v: isinstance(v, list),
         "object": lambda v: isinstance(v, dict)}


def validate(s, v, where, label, seen, errs):
    """Check v against schema s; record (label, key) of each member seen."""
    s, lab = deref(s)
    label = lab or label
    if "oneOf" in s:
        fits = []
        for branch in s["oneOf"]:
            e, sn = [], set()
            validate(branch, v, where, label, sn, e)
            if not e:
                fits.append(sn)
        if len(fits) != 1:
            errs.append("%s: fits %d of the oneOf branches, not 1" % (where, len(fits)))
        else:
            seen |= fits[0]
        return
    t = s.get("type", "object" if ("properties" in s or "allOf" in s) else None)
    if t is not None:
        ts = t if isinstance(t, list) else [t]
        if not any(TYPES[x](v) for x in ts):
            errs.append("%s: %s is not %s" % (where, json.dumps(v)[:60], "/".join(ts)))
            return
    if "enum" in s and v not in s["enum"]:
        errs.append("%s: %s is not one of %s" % (where, json.dumps(v), s["enum"]))
    if "minimum" in s and TYPES["number"](v) and v < s["minimum"]:
        errs.append("%s: %s is below %s" % (where, v, s["minimum"]))
    if isinstance(v, list):
        for i, item in enumerate(v):
            validate(s.get("items", {}), item, "%s[%d]" % (where, i), label, seen, errs)
    if isinstance(v, dict) and ("properties" in s or "allOf" in s):
        props, req, closed = merged(s, label)
        for k in sorted(req - set(v)):
            errs.append("%s: the document requires '%s', the answer lacks it" % (where, k))
        for k, item in v.items():
            if k not in props:
                if closed:
                    errs.append("%s: '%s' is not in the document" % (where, k))
                continue
            sub, plab = props[k]
            seen.add((plab, k))
            validate(sub, item, where + "." + k, plab + "." + k, seen, errs)


def fields(s, label, out, depth=0):
    """Every (label, key) a schema lists, with the labels validate() uses."""
    s, lab = deref(s)
    label = lab or label
    if depth > 20:
        return
    for branch in s.get("oneOf", []):
        fields(branch, label, out, depth + 1)
    if "items" in s:
        fields(s["items"], label, out, depth + 1)
    if "properties" in s or "allOf" in s:
        props, _, _ = merged(s, label)
        for k, (sub, plab) in props.items():
            out.add((plab, k))
            fields(sub, plab + "." + k, out, depth + 1)


def curl(method, path, body=None):
    """One request; (status, headers {lower name: value}, body text)."""
    cmd = ["curl", "-s", "-D", "-", "--max-time", "30", "--path-as-is", "--unix-socket", sock,
           "-X", method, "http://localhost" + path]
    if body is not None:
        cmd[1:1] = ["-H", "Content-Type: application/json", "--data-binary", body]
    out = subprocess.run(cmd, capture_output=True).stdout.decode(errors="replace")
    head, _, text = out.partition("\r\n\r\n")
    return parse_head(head) + (text,)


def parse_head(head):
    lines = head.splitlines()
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    hdrs = {}
    for ln in lines[1:]:
        k, _, val = ln.partition(":")
        hdrs[k.strip().lower()] = val.strip()
    return status, hdrs


def response_for(route, method, status):
    op = doc["paths"].get(route, {}).get(method.lower())
    if op is None:
        return None, None
    r = op["responses"].get(str(status))
    return (deref(r)[0] if r else None), op


def check_answer(name, method, route, status, hdrs, text, seen):
    """One answer against what the document says for its route and status."""
    if method == "HEAD":
        return
    r, op = response_for(route, method, status)
    if op is None:
        problem("%s: %s %s is not in the document" % (name, method, route))
        return
    if r is None:
        problem("%s: %s %s answered %d, which the document does not list" %
                (name, method, route, status))
        return
    ctype = hdrs.get("content-type")
    content = r.get("content")
    if not content:
        if ctype or text:
            problem("%s: %d should have no body and no Content-Type: %r %r" % (name, status, ctype, text[:80]))
        return
    mt = next(iter(content))
    if not ctype or ctype.split(";")[0].strip() != mt:
        problem("%s: Content-Type %r, the document says %s" % (name, ctype, mt))
    for h, spec in r.get("headers", {}).items():
        if spec.get("required") and h.lower() not in hdrs:
            problem("%s: no %s header, which the document promises" % (name, h))
    if mt != "application/json":
        return
    try:
        v = json.loads(text)
    except ValueError as e:
        problem("%s: not JSON (%s): %r" % (name, e, text[:80]))
        return
    errs = []
    validate(content[mt]["schema"], v, name, "", seen, errs)
    for e in errs:
        problem(e)
    codes = r.get("x-error-codes")
    if codes and isinstance(v, dict) and v.get("error", {}).get("code") not in codes:
        problem("%s: error code %r is not among the document's %s for %d" %
                (name, v.get("error", {}).get("code"), codes, status))


def main():
    seen = set()
    answered = set()
    # 1. The routes: the document's, the test's own list, each answered.
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item if m in METHODS}
    listed = {tuple(ln.split()) for ln in open(routes_path) if ln.strip()}
    for m, p in sorted(documented - listed):
        problem("the document has %s %s, which the server does not serve (not in the test's list)" % (m, p))
    for m, p in sorted(listed - documented):
        problem("the server serves %s %s, which the document lacks" % (m, p))

    # 2. Every recorded answer against the document.
    recs = sorted((int(f[:-5]) for f in os.listdir(rec_dir) if f.endswith(".meta")))
    for n in recs:
        method, route, path = open("%s/%d.meta" % (rec_dir, n)).read().rstrip("\n").split("\t")
        status, hdrs = parse_head(open("%s/%d.hdr" % (rec_dir, n), newline="").read().strip())
        text = open("%s/%d.body" % (rec_dir, n), errors="replace").read()
        if 200 <= status < 300:
            answered.add((method, route))
        check_answer("%s %s (%d)" % (method, path, status), method, route, status, hdrs, text, seen)
    # Routes the test cannot carry out here are named "METHOD:route why".
    no_2xx = {ln.split()[0] for ln in open(exempt_path) if ln.split() and ":/" in ln.split()[0]}
    for m, p in sorted(documented - answered):
        if "%s:%s" % (m, p) not in no_2xx:
            problem("the test never got a 2xx from %s %s" % (m, p))

    # 3. Request bodies: the document's fields are what the server knows.
    bodies = {"CreateBody": ("POST", "/v1/volumes"), "AttachBody": ("POST", "/v1/volumes/oa-attach/attach"),
              "DevicePatch": ("PATCH", "/v1/devices/cpu0")}
    for name, (m, path) in bodies.items():
        schema = doc["components"]["schemas"][name]
        st, _, text = curl(m, path, '{"zz_no_such_field": 1}')
        got = re.search(r"known fields: ([a-z_, ]+)", text)
        known = set(got.group(1).split(", ")) if got else set()
        if st != 400 or known != set(schema["properties"]):
            problem("%s: the server knows %s, the document %s (answer %d: %s)" %
                    (name, sorted(known), sorted(schema["properties"]), st, text.strip()[:200]))
    # ...and a body made of the document's example is taken.
    curl("POST", "/v1/volumes", '{"name": "oa-attach", "size": 4194304, "frontend": "none"}')
    for name, (m, path) in bodies.items():
        st, hdrs, text = curl(m, path, json.dumps(doc["components"]["schemas"][name]["example"]))
        route = {"CreateBody": "/v1/volumes", "AttachBody": "/v1/volumes/{name}/attach",
                 "DevicePatch": "/v1/devices/{id}"}[name]
        if not 200 <= st < 300:
            problem("%s: the document's example is refused: %d %s" % (name, st, text.strip()[:200]))
        check_answer("%s example" % name, m, route, st, hdrs, text, seen)
    for v in ("swap0", "oa-attach"):
        curl("DELETE", "/v1/volumes/%s?force=true" % v)

    # 4. Other methods on each documented path: 405 with the Allow the
    # document implies; paths nobody serves: 404.
    for p, item in doc["paths"].items():
        allowed = [m.upper() for m in METHODS if m in item]
        path = p.replace("{id}", "1" if p.startswith("/v1/jobs") else "cpu0").replace("{name}", "oa-none")
        for m in METHODS:
            if m in item:
                continue
            st, hdrs, text = curl(m.upper(), path)
            allow = sorted(a.strip() for a in hdrs.get("allow", "").split(","))
            code = json.loads(text).get("error", {}).get("code") if text.startswith("{") else None
            if st != 405 or allow != sorted(allowed) or code != "method_not_allowed":
                problem("%s %s: %d Allow %r (%s), expected 405 Allow %s" %
                        (m.upper(), path, st, hdrs.get("allow"), code, ", ".join(allowed)))
    for path in ["/", "/v2", "/v1/volume", "/v1/pools", "/v1/jobsx", "/v1/devicesx",
                 "/healthz/x", "/metrics/x", "/v1/volumesx", "/openapi.json"]:
        for m in ("GET", "POST"):
            st, hdrs, text = curl(m, path)
            code = json.loads(text).get("error", {}).get("code") if text.startswith("{") else None
            if st != 404 or code != "not_found":
                problem("%s %s: %d %s, expected 404 not_found: the document has no such route" %
                        (m, path, st, code))

    # 5. Every field the document lists for an answer was seen in one,
    # but for those the test cannot make here (named with the reason).
    listed_fields = set()
    for p, item in doc["paths"].items():
        for m in METHODS:
            for r in item.get(m, {}).get("responses", {}).values():
                for c in deref(r)[0].get("content", {}).values():
                    if c["schema"].get("type") != "string":
                        fields(c["schema"], "", listed_fields)
    # A byte count in an answer is named for what it counts and ends in
    # _bytes (docs/design-decisions.md): no bare size, unit or bytes.
    for lab, k in sorted(listed_fields):
        if re.fullmatch(r"(.*_)?(size|unit|bytes)", k) and not k.endswith("_bytes"):
            problem("%s.%s: a byte count in an answer ends in _bytes" % (lab, k))
    exempt = {}
    for ln in open(exempt_path):
        if ln.strip():
            k, _, why = ln.strip().partition(" ")
            exempt[k] = why
    for lab, k in sorted(listed_fields - seen):
        if "%s.%s" % (lab, k) not in exempt:
            problem("the document lists %s.%s, which no answer carried" % (lab, k))
    for k in sorted(exempt):
        if tuple(k.rsplit(".", 1)) in seen:
            problem("%s is exempt (%s) but an answer carried it: drop the exemption" % (k, exempt[k]))
    print("openapi-check: %d answers, %d routes, %d documented fields (%d seen, %d exempt)" %
          (len(recs), len(documented), len(listed_fields), len(listed_fields & seen), len(exempt)))
    for msg in problems:
        print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1 if problems else 0)


main()
