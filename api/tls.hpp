// TLS on the listener ([tls] in server.toml): the server context built from the configured
// certificate and key, and the stream type the sessions run over when it is configured.
// Thread-safety: make_tls_context runs once at start; the context is then only read (OpenSSL
// lets every connection create its SSL object from one SSL_CTX concurrently).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <memory>
#include <variant>

#include "api/server_config.hpp"

namespace loyalty::api {

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// A server context accepting TLS 1.2 and 1.3 only, with the certificate chain and the private
// key of `config`, checked to belong together. The error names the key (tls.cert_file or
// tls.key_file) and the file; loyaltyd prints it and exits 2, as for any bad configuration.
[[nodiscard]] std::variant<std::shared_ptr<boost::asio::ssl::context>, ConfigError>
make_tls_context(const TlsConfig& config);

}  // namespace loyalty::api
