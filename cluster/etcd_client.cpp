#include "cluster/etcd_client.hpp"

#include <openssl/evp.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

namespace loyalty::cluster {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(bytes.data()),
                                      static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(written));
  return out;
}

bool unbase64(std::string_view text, std::string& out) {
  if (text.size() % 4 != 0) return false;
  out.assign(3 * (text.size() / 4), '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(text.data()),
                                      static_cast<int>(text.size()));
  if (written < 0) return false;
  size_t size = static_cast<size_t>(written);
  // EVP_DecodeBlock counts the padding as zero bytes.
  if (!text.empty() && text.back() == '=') --size;
  if (text.size() > 1 && text[text.size() - 2] == '=') --size;
  out.resize(size);
  return true;
}

// etcd's gateway writes int64 as JSON strings ("revision": "12"); proto3 leaves zeros out.
int64_t int_field(const json::object& object, std::string_view name) {
  const json::value* value = object.if_contains(name);
  if (value == nullptr) return 0;
  if (value->is_int64()) return value->as_int64();
  if (value->is_uint64()) return static_cast<int64_t>(value->as_uint64());
  if (value->is_string()) {
    try {
      return std::stoll(std::string(value->as_string()));
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

Status protocol_error(std::string what) {
  return Status::error(Status::Code::io_error, "etcd: " + std::move(what));
}

Status read_key_value(const json::value& value, EtcdKeyValue& out) {
  if (!value.is_object()) return protocol_error("a key-value is not an object");
  const json::object& object = value.as_object();
  const json::value* key = object.if_contains("key");
  if (key == nullptr || !key->is_string() || !unbase64(key->as_string(), out.key)) {
    return protocol_error("a key is not base64");
  }
  out.value.clear();
  if (const json::value* v = object.if_contains("value")) {
    if (!v->is_string() || !unbase64(v->as_string(), out.value)) {
      return protocol_error("a value is not base64");
    }
  }
  out.create_revision = int_field(object, "create_revision");
  out.mod_revision = int_field(object, "mod_revision");
  out.lease = int_field(object, "lease");
  return Status::ok_status();
}

Status parse_object(const std::string& text, json::object& out) {
  boost::system::error_code error;
  json::value value = json::parse(text, error);
  if (error || !value.is_object()) return protocol_error("an answer is not a JSON object");
  out = std::move(value.as_object());
  if (const json::value* message = out.if_contains("error")) {
    return protocol_error(message->is_string() ? std::string(message->as_string())
                                               : json::serialize(*message));
  }
  return Status::ok_status();
}

// The key range [prefix, prefix + 1) as etcd wants it: the last byte incremented.
std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

}  // namespace

// One keep-alive HTTP/1.1 connection to one endpoint, driven synchronously through an
// io_context so that every step has a deadline (Beast's blocking calls have none).
class EtcdClient::Connection {
 public:
  Connection(std::string host, std::string port) : host_(std::move(host)), port_(std::move(port)) {}

  // `maybe_sent` becomes true once the request may have reached etcd: a failure after that
  // leaves unknown whether it was carried out.
  Status post(std::string_view path, const std::string& body, std::chrono::milliseconds timeout,
              std::string& answer, bool& maybe_sent) {
    maybe_sent = false;
    beast::error_code error;
    if (!connected_) {
      asio::ip::tcp::resolver resolver(io_);
      const auto endpoints = resolver.resolve(host_, port_, error);
      if (error) return fail("resolve", error);
      stream_.expires_after(timeout);
      stream_.async_connect(endpoints, [&](beast::error_code e, auto) { error = e; });
      run();
      if (error) return fail("connect", error);
      connected_ = true;
    }
    http::request<http::string_body> request{http::verb::post, path, 11};
    request.set(http::field::host, host_);
    request.set(http::field::content_type, "application/json");
    request.keep_alive(true);
    request.body() = body;
    request.prepare_payload();
    stream_.expires_after(timeout);
    maybe_sent = true;
    http::async_write(stream_, request, [&](beast::error_code e, size_t) { error = e; });
    run();
    if (error) return fail("write", error);
    http::response<http::string_body> response;
    buffer_.clear();
    http::async_read(stream_, buffer_, response, [&](beast::error_code e, size_t) { error = e; });
    run();
    if (error) return fail("read", error);
    if (!response.keep_alive()) close();
    answer = std::move(response.body());
    if (response.result() != http::status::ok) {
      return protocol_error(std::string(path) + " answered " +
                            std::to_string(response.result_int()) + ": " + answer);
    }
    return Status::ok_status();
  }

 private:
  // Runs the one operation started until its handler has run (the stream's deadline ends it).
  void run() {
    io_.restart();
    io_.run();
  }
  Status fail(std::string_view step, const beast::error_code& error) {
    close();
    return Status::error(Status::Code::io_error, "etcd " + host_ + ":" + port_ + ": " +
                                                     std::string(step) + ": " + error.message());
  }
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.close();
    connected_ = false;
  }

  std::string host_;
  std::string port_;
  asio::io_context io_;
  beast::tcp_stream stream_{io_};
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

EtcdClient::EtcdClient(std::vector<std::string> endpoints, std::chrono::milliseconds timeout)
    : endpoints_(std::move(endpoints)), timeout_(timeout) {}

EtcdClient::~EtcdClient() = default;

std::string EtcdClient::endpoint() const {
  const std::lock_guard lock(mutex_);
  return endpoints_.empty() ? std::string() : endpoints_[current_];
}

Status EtcdClient::post(std::string_view path, const std::string& body, std::string& answer,
                        bool retry_sent) {
  const std::lock_guard lock(mutex_);
  if (endpoints_.empty()) return protocol_error("no endpoints");
  Status last;
  for (size_t attempt = 0; attempt < endpoints_.size(); ++attempt) {
    if (!connection_) {
      const auto url = boost::urls::parse_uri(endpoints_[current_]);
      if (!url) return protocol_error("bad endpoint " + endpoints_[current_]);
      const std::string port = url->has_port() ? std::string(url->port()) : std::string("2379");
      connection_ = std::make_unique<Connection>(std::string(url->host()), port);
    }
    bool maybe_sent = false;
    last = connection_->post(path, body, timeout_, answer, maybe_sent);
    if (last.ok()) return last;
    // Failures move to the next endpoint (a leaderless member answers 503; another may be
    // healthy). A compare-and-set that may have been carried out is not sent again: its
    // second answer would contradict the first ("not created" for what it created), so the
    // caller gets the error and reads again.
    connection_.reset();
    current_ = (current_ + 1) % endpoints_.size();
    if (maybe_sent && !retry_sent) return last;
  }
  return last;
}

Status EtcdClient::grant_lease(int64_t ttl_seconds, int64_t& lease_id) {
  json::object request;
  request["TTL"] = ttl_seconds;
  std::string answer;
  if (Status s = post("/v3/lease/grant", json::serialize(request), answer); !s.ok()) return s;
  json::object object;
  if (Status s = parse_object(answer, object); !s.ok()) return s;
  lease_id = int_field(object, "ID");
  if (lease_id == 0 || int_field(object, "TTL") <= 0) return protocol_error("lease not granted");
  return Status::ok_status();
}

Status EtcdClient::keep_alive(int64_t lease_id, int64_t& ttl_left) {
  json::object request;
  request["ID"] = std::to_string(lease_id);
  std::string answer;
  if (Status s = post("/v3/lease/keepalive", json::serialize(request), answer); !s.ok()) return s;
  json::object object;
  if (Status s = parse_object(answer, object); !s.ok()) return s;
  // A streaming call through the gateway: one message, {"result": {...}}.
  const json::value* result = object.if_contains("result");
  if (result == nullptr || !result->is_object()) return protocol_error("keepalive: no result");
  ttl_left = int_field(result->as_object(), "TTL");
  return Status::ok_status();
}

Status EtcdClient::revoke_lease(int64_t lease_id) {
  json::object request;
  request["ID"] = std::to_string(lease_id);
  std::string answer;
  return post("/v3/lease/revoke", json::serialize(request), answer);
}

Status EtcdClient::get(std::string_view key, std::optional<EtcdKeyValue>& out) {
  json::object request;
  request["key"] = base64(key);
  std::string answer;
  if (Status s = post("/v3/kv/range", json::serialize(request), answer); !s.ok()) return s;
  json::object object;
  if (Status s = parse_object(answer, object); !s.ok()) return s;
  out.reset();
  if (const json::value* kvs = object.if_contains("kvs"); kvs != nullptr && kvs->is_array()) {
    if (!kvs->as_array().empty()) {
      EtcdKeyValue kv;
      if (Status s = read_key_value(kvs->as_array().front(), kv); !s.ok()) return s;
      out = std::move(kv);
    }
  }
  return Status::ok_status();
}

Status EtcdClient::get_prefix(std::string_view prefix, std::vector<EtcdKeyValue>& out,
                              int64_t* revision, bool keys_only) {
  json::object request;
  request["key"] = base64(prefix);
  request["range_end"] = base64(prefix_end(prefix));
  if (keys_only) request["keys_only"] = true;
  std::string answer;
  if (Status s = post("/v3/kv/range", json::serialize(request), answer); !s.ok()) return s;
  json::object object;
  if (Status s = parse_object(answer, object); !s.ok()) return s;
  out.clear();
  if (const json::value* kvs = object.if_contains("kvs"); kvs != nullptr && kvs->is_array()) {
    for (const json::value& item : kvs->as_array()) {
      EtcdKeyValue kv;
      if (Status s = read_key_value(item, kv); !s.ok()) return s;
      out.push_back(std::move(kv));
    }
  }
  if (revision != nullptr) {
    const json::value* header = object.if_contains("header");
    *revision =
        header != nullptr && header->is_object() ? int_field(header->as_object(), "revision") : 0;
  }
  return Status::ok_status();
}

Status EtcdClient::put(std::string_view key, std::string_view value, int64_t lease_id) {
  json::object request;
  request["key"] = base64(key);
  request["value"] = base64(value);
  if (lease_id != 0) request["lease"] = std::to_string(lease_id);
  std::string answer;
  if (Status s = post("/v3/kv/put", json::serialize(request), answer); !s.ok()) return s;
  json::object object;
  return parse_object(answer, object);
}

Status EtcdClient::create(std::string_view key, std::string_view value, int64_t lease_id,
                          bool& created, std::optional<EtcdKeyValue>* existing) {
  json::object put;
  put["key"] = base64(key);
  put["value"] = base64(value);
  if (lease_id != 0) put["lease"] = std::to_string(lease_id);
  json::object range;
  range["key"] = base64(key);
  json::object request;
  request["compare"] = json::array{
      json::object{{"key", base64(key)}, {"target", "CREATE"}, {"create_revision", "0"}}};
  request["success"] = json::array{json::object{{"requestPut", put}}};
  request["failure"] = json::array{json::object{{"requestRange", range}}};
  std::string answer;
  if (Status s = post("/v3/kv/txn", json::serialize(request), answer, false); !s.ok()) return s;
  json::object object;
  if (Status s = parse_object(answer, object); !s.ok()) return s;
  const json::value* succeeded = object.if_contains("succeeded");
  created = succeeded != nullptr && succeeded->is_bool() && succeeded->as_bool();
  if (created || existing == nullptr) return Status::ok_status();
  existing->reset();
  // failure: [{"response_range": {"kvs": [...]}}]
  const json::value* responses = object.if_contains("responses");
  if (responses == nullptr || !responses->is_array() || responses->as_array().empty()) {
    return Status::ok_status();  // deleted between the compare and the range: none to show
  }
  const json::value& first = responses->as_array().front();
  const json::value* range_answer =
      first.is_object() ? first.as_object().if_contains("response_range") : nullptr;
  if (range_answer == nullptr || !range_answer->is_object()) return Status::ok_status();
  const json::value* kvs = range_answer->as_object().if_contains("kvs");
  if (kvs != nullptr && kvs->is_array() && !kvs->as_array().empty()) {
    EtcdKeyValue kv;
    if (Status s = read_key_value(kvs->as_array().front(), kv); !s.ok()) return s;
    *existing = std::move(kv);
  }
  return Status::ok_status();
}

Status EtcdClient::put_if(std::string_view key, std::string_view value, int64_t mod_revision,
                          bool& put, int64_t* revision) {
  json::object request;
  request["compare"] = json::array{json::object{
      {"key", base64(key)}, {"target", "MOD"}, {"mod_revision", std::to_string(mod_revision)}}};
  request["success"] = json::array{
      json::object{{"requestPut", json::object{{"key", base64(key)}, {"value", base64(value)}}}}};
  std::string answer;
  if (Status s = post("/v3/kv/txn", json::serialize(request), answer, false); !s.ok()) return s;
  json::object object;
  if (Status s = parse_object(answer, object); !s.ok()) return s;
  const json::value* succeeded = object.if_contains("succeeded");
  put = succeeded != nullptr && succeeded->is_bool() && succeeded->as_bool();
  if (revision != nullptr) {
    // The transaction's revision is the one its put made.
    const json::value* header = object.if_contains("header");
    *revision =
        header != nullptr && header->is_object() ? int_field(header->as_object(), "revision") : 0;
  }
  return Status::ok_status();
}

Status EtcdClient::remove_if(std::string_view key, int64_t mod_revision, bool& removed) {
  json::object request;
  request["compare"] = json::array{json::object{
      {"key", base64(key)}, {"target", "MOD"}, {"mod_revision", std::to_string(mod_revision)}}};
  request["success"] =
      json::array{json::object{{"requestDeleteRange", json::object{{"key", base64(key)}}}}};
  std::string answer;
  if (Status s = post("/v3/kv/txn", json::serialize(request), answer, false); !s.ok()) return s;
  json::object object;
  if (Status s = parse_object(answer, object); !s.ok()) return s;
  const json::value* succeeded = object.if_contains("succeeded");
  removed = succeeded != nullptr && succeeded->is_bool() && succeeded->as_bool();
  return Status::ok_status();
}

Status EtcdClient::remove(std::string_view key) {
  json::object request;
  request["key"] = base64(key);
  std::string answer;
  if (Status s = post("/v3/kv/deleterange", json::serialize(request), answer); !s.ok()) return s;
  json::object object;
  return parse_object(answer, object);
}

Status EtcdClient::remove_prefix(std::string_view prefix) {
  json::object request;
  request["key"] = base64(prefix);
  request["range_end"] = base64(prefix_end(prefix));
  std::string answer;
  if (Status s = post("/v3/kv/deleterange", json::serialize(request), answer); !s.ok()) return s;
  json::object object;
  return parse_object(answer, object);
}

}  // namespace loyalty::cluster
