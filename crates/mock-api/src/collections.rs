//! `/{c}...` endpoints: three pagination styles, a Graph-style delta
//! feed, and writes.

use serde_json::{json, Value};
use url::form_urlencoded::byte_serialize;

use crate::reply::Reply;
use crate::routes::Query;
use crate::server::{lock, Shared};
use crate::RecordedRequest;

const MAX_PAGE: usize = 1000;

fn enc(s: &str) -> String {
    byte_serialize(s.as_bytes()).collect()
}

fn not_allowed(m: &str, req: &RecordedRequest) -> Reply {
    Reply::error(405, format!("{m} is not allowed on {}", req.path))
}

fn limit(s: &Shared, q: &Query, names: &[&str]) -> Result<usize, Reply> {
    let n = q.usize(names, s.opts.page_size)?;
    Ok(n.clamp(1, MAX_PAGE))
}

/// `GET /{c}` (cursor pages by id) and `POST /{c}`.
pub(crate) fn collection(s: &Shared, req: &RecordedRequest, m: &str, c: &str) -> Reply {
    match m {
        "GET" => list(s, req, c).unwrap_or_else(|e| e),
        "POST" => create(s, req, c),
        _ => not_allowed(m, req),
    }
}

/// `/{c}/by-page`, `/{c}/latest`, `/{c}/delta`, and `/{c}/{id}`.
pub(crate) fn item(s: &Shared, req: &RecordedRequest, m: &str, c: &str, sub: &str) -> Reply {
    let r = match (m, sub) {
        ("GET", "by-page") => by_page(s, req, c),
        ("GET", "query") => query(s, req, c),
        ("GET", "latest") => latest(s, req, c),
        ("GET", "delta") => delta(s, req, c),
        (_, "by-page" | "latest" | "delta" | "query") => Ok(not_allowed(m, req)),
        ("GET", id) => Ok(match lock(&s.store).get(c, id) {
            Some(r) => Reply::json(200, &r),
            None => missing(c, id),
        }),
        ("PATCH" | "PUT", id) => write(s, req, c, id, m == "PUT"),
        ("DELETE", id) => Ok(match s.change(|st| st.delete(c, id)) {
            Some(_) => Reply::empty(204),
            None => missing(c, id),
        }),
        _ => Ok(not_allowed(m, req)),
    };
    r.unwrap_or_else(|e| e)
}

fn missing(c: &str, id: &str) -> Reply {
    Reply::error(404, format!("no record '{id}' in '{c}'"))
}

fn object_body(req: &RecordedRequest) -> Result<Value, Reply> {
    match req.body_json() {
        Some(v @ Value::Object(_)) => Ok(v),
        _ => Err(Reply::error(
            400,
            format!("{} {}: body must be a JSON object", req.method, req.path),
        )),
    }
}

fn create(s: &Shared, req: &RecordedRequest, c: &str) -> Reply {
    let fields = match object_body(req) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let mut store = lock(&s.store);
    if let Some(id) = fields.get("id").and_then(Value::as_str) {
        if store.is_live(c, id) {
            return Reply::error(409, format!("record '{id}' already exists in '{c}'"));
        }
    }
    let change = store.create(c, fields);
    lock(&s.webhooks).dispatch(&change);
    let id = change
        .record
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("");
    let location = format!("{}/{}/{}", s.base_url, enc(c), enc(id));
    Reply::json(201, &change.record).with_header("location", location)
}

fn write(
    s: &Shared,
    req: &RecordedRequest,
    c: &str,
    id: &str,
    replace: bool,
) -> Result<Reply, Reply> {
    let fields = object_body(req)?;
    Ok(match s.change(|st| st.update(c, id, fields, replace)) {
        Some(ch) => Reply::json(200, &ch.record),
        None => missing(c, id),
    })
}

fn list(s: &Shared, req: &RecordedRequest, c: &str) -> Result<Reply, Reply> {
    let q = Query::parse(&req.query);
    let limit = limit(s, &q, &["limit", "$top", "top"])?;
    let after = q.get(&["cursor"]).filter(|c| !c.is_empty());
    let (records, more) = lock(&s.store).list_after(c, after, limit);
    let mut body = json!({"records": records});
    if more {
        if let Some(last) = records_last_id(&body) {
            body["cursor"] = Value::String(last);
        }
    }
    Ok(Reply::json(200, &body))
}

fn records_last_id(body: &Value) -> Option<String> {
    let last = body.get("records")?.as_array()?.last()?;
    last.get("id")?.as_str().map(str::to_string)
}

fn by_page(s: &Shared, req: &RecordedRequest, c: &str) -> Result<Reply, Reply> {
    let q = Query::parse(&req.query);
    let page = q.usize(&["page"], 1)?;
    if page == 0 {
        return Err(Reply::error(400, "query parameter 'page' starts at 1"));
    }
    let size = limit(s, &q, &["pageSize", "limit"])?;
    let (records, total_pages) = lock(&s.store).page(c, page, size);
    Ok(Reply::json(
        200,
        &json!({"records": records, "page": page, "pageSize": size, "totalPages": total_pages}),
    ))
}

/// QuickBooks Online's query shape: `startPosition` (from 1) and
/// `maxResults`, the page under `QueryResponse.<Entity>` (the collection's
/// name with a capital first letter) with each record's keys PascalCase
/// (`Id`, `DisplayName` from `name`, `MetaData: {CreateTime,
/// LastUpdatedTime}`, the other fields capitalized), and no page key past
/// the end. For connectors that build records with a mapping.
fn query(s: &Shared, req: &RecordedRequest, c: &str) -> Result<Reply, Reply> {
    let q = Query::parse(&req.query);
    let start = q.usize(&["startPosition"], 1)?.max(1);
    let size = limit(s, &q, &["maxResults"])?;
    let page = (start - 1) / size.max(1) + 1;
    let (records, _) = lock(&s.store).page(c, page, size);
    let entity = {
        let mut chars = c.chars();
        match chars.next() {
            Some(f) => f.to_uppercase().chain(chars).collect::<String>(),
            None => String::new(),
        }
    };
    let mut response = serde_json::Map::new();
    if !records.is_empty() {
        response.insert(entity, Value::Array(records.iter().map(pascal).collect()));
        response.insert("startPosition".into(), json!(start));
        response.insert("maxResults".into(), json!(records.len()));
    }
    Ok(Reply::json(200, &json!({"QueryResponse": response})))
}

fn pascal(record: &Value) -> Value {
    let mut out = serde_json::Map::new();
    let mut meta = serde_json::Map::new();
    if let Value::Object(map) = record {
        for (k, v) in map {
            match k.as_str() {
                "id" => {
                    out.insert("Id".into(), v.clone());
                }
                "name" => {
                    out.insert("DisplayName".into(), v.clone());
                }
                "createdTime" => {
                    meta.insert("CreateTime".into(), v.clone());
                }
                "updatedTime" => {
                    meta.insert("LastUpdatedTime".into(), v.clone());
                }
                other => {
                    let mut chars = other.chars();
                    let key: String = match chars.next() {
                        Some(f) => f.to_uppercase().chain(chars).collect(),
                        None => continue,
                    };
                    out.insert(key, v.clone());
                }
            }
        }
    }
    out.insert("MetaData".into(), Value::Object(meta));
    Value::Object(out)
}

/// Newest first. Accepts Graph's `$orderby=createdDateTime desc` as well as
/// `orderBy=createdTime`; only descending order exists.
fn latest(s: &Shared, req: &RecordedRequest, c: &str) -> Result<Reply, Reply> {
    let q = Query::parse(&req.query);
    let order = q
        .get(&["$orderby", "orderby", "orderBy", "$orderBy"])
        .unwrap_or("");
    let mut words = order.split_whitespace();
    let field = words.next().unwrap_or("updatedTime");
    let by_created = match field {
        "createdDateTime" | "createdTime" => true,
        "updatedTime" | "lastModifiedDateTime" | "updatedDateTime" => false,
        other => {
            return Err(Reply::error(
                400,
                format!("cannot order by '{other}': use createdTime or updatedTime"),
            ))
        }
    };
    if words.next().is_some_and(|d| d.eq_ignore_ascii_case("asc")) {
        return Err(Reply::error(400, "only descending order is supported"));
    }
    let include_deleted = q.get(&["includeDeleted"]) == Some("true");
    let limit = limit(s, &q, &["limit", "$top", "top", "pageSize"])?;
    let skip = q.usize(&["skip", "$skip"], 0)?;
    let (records, more) = lock(&s.store).latest(c, by_created, include_deleted, skip, limit);
    let mut body = json!({"records": records});
    if more {
        body["nextPageLink"] = Value::String(next_link(s, req, skip + limit));
    }
    Ok(Reply::json(200, &body))
}

/// The same request with `skip` replaced, keeping the client's own
/// encoding of every other parameter.
fn next_link(s: &Shared, req: &RecordedRequest, skip: usize) -> String {
    let mut parts: Vec<&str> = req
        .query
        .split('&')
        .filter(|p| {
            let key = p.split('=').next().unwrap_or("");
            !p.is_empty() && !matches!(key, "skip" | "$skip" | "%24skip")
        })
        .collect();
    let skip = format!("skip={skip}");
    parts.push(&skip);
    format!("{}{}?{}", s.base_url, req.path, parts.join("&"))
}

/// Graph-style delta. Without `token`: every live record, then a
/// `deltaLink` whose token is the seq when the scan began (so changes
/// during the scan show up in the next round). With `token=T`: records
/// changed after seq T, oldest change first. Paging state rides in
/// `skiptoken`: `init.<upto>.<after id>` or `chg.<upto>.<after seq>`.
fn delta(s: &Shared, req: &RecordedRequest, c: &str) -> Result<Reply, Reply> {
    let q = Query::parse(&req.query);
    let limit = limit(s, &q, &["limit", "$top", "top"])?;
    let store = lock(&s.store);
    let token = match q.get(&["token", "$deltatoken", "deltatoken"]) {
        Some(t) => Some(t.parse::<u64>().map_err(|_| {
            Reply::error(400, format!("invalid delta token '{t}' in {}", req.path))
        })?),
        None => None,
    };
    if token.is_some_and(|t| store.delta_token_expired(t)) {
        return Err(Reply::json(
            410,
            &json!({"error": {"code": "resyncRequired", "message": "delta token expired; start again without a token"}}),
        ));
    }
    let skip = q
        .get(&["skiptoken", "$skiptoken"])
        .map(|t| t.splitn(3, '.').collect::<Vec<_>>());
    let bad_skip = || {
        Reply::error(
            400,
            format!("invalid skiptoken in {}?{}", req.path, req.query),
        )
    };
    let (value, next, upto): (Vec<Value>, Option<String>, u64) = match (skip.as_deref(), token) {
        (Some(["init", upto, after]), _) => {
            let upto = upto.parse().map_err(|_| bad_skip())?;
            let (v, more) = store.list_after(c, Some(after), limit);
            let next = more
                .then(|| last_id(&v))
                .flatten()
                .map(|id| format!("init.{upto}.{id}"));
            (v, next, upto)
        }
        (Some(["chg", upto, after]), _) => {
            let upto = upto.parse().map_err(|_| bad_skip())?;
            let after = after.parse().map_err(|_| bad_skip())?;
            page_changes(&store, c, after, upto, limit)
        }
        (Some(_), _) => return Err(bad_skip()),
        (None, None) => {
            let upto = store.seq();
            let (v, more) = store.list_after(c, None, limit);
            let next = more
                .then(|| last_id(&v))
                .flatten()
                .map(|id| format!("init.{upto}.{id}"));
            (v, next, upto)
        }
        (None, Some(t)) => page_changes(&store, c, t, store.seq(), limit),
    };
    drop(store);
    let base = format!("{}/{}/delta", s.base_url, enc(c));
    let mut body = json!({"value": value});
    match next {
        Some(skip) => {
            body["nextPageLink"] = Value::String(format!("{base}?skiptoken={}", enc(&skip)))
        }
        None => body["deltaLink"] = Value::String(format!("{base}?token={upto}")),
    }
    Ok(Reply::json(200, &body))
}

fn last_id(v: &[Value]) -> Option<String> {
    v.last()?.get("id")?.as_str().map(str::to_string)
}

fn page_changes(
    store: &crate::store::Store,
    c: &str,
    after: u64,
    upto: u64,
    limit: usize,
) -> (Vec<Value>, Option<String>, u64) {
    let (items, more) = store.delta_changes(c, after, upto, limit);
    let next = match (more, items.last()) {
        (true, Some((seq, _))) => Some(format!("chg.{upto}.{seq}")),
        _ => None,
    };
    (items.into_iter().map(|(_, v)| v).collect(), next, upto)
}
