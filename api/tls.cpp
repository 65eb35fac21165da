// Building the TLS server context from [tls]: protocol floor, certificate chain, private key.
#include "api/tls.hpp"

#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>

namespace loyalty::api {
namespace ssl = boost::asio::ssl;

namespace {

// Says why a configured file cannot be used at all, before OpenSSL's less telling errors.
std::optional<ConfigError> unreadable(const std::string& path, const char* key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ConfigError{key, path + ": cannot read: " + std::strerror(errno)};
  return std::nullopt;
}

}  // namespace

std::variant<std::shared_ptr<ssl::context>, ConfigError> make_tls_context(const TlsConfig& config) {
  if (auto error = unreadable(config.cert_file, "tls.cert_file")) return *error;
  if (auto error = unreadable(config.key_file, "tls.key_file")) return *error;

  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  // TLS 1.0 and 1.1 are deprecated (RFC 8996); compression invites CRIME; client-initiated
  // renegotiation costs the server a handshake per request of a hostile client.
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                       ssl::context::single_dh_use | SSL_OP_NO_RENEGOTIATION |
                       SSL_OP_CIPHER_SERVER_PREFERENCE);
  // An encrypted key would make OpenSSL prompt on the terminal of a daemon: refuse it instead.
  context->set_password_callback(
      [](std::size_t, ssl::context::password_purpose) { return std::string(); });

  boost::system::error_code error;
  context->use_certificate_chain_file(config.cert_file, error);
  if (error) {
    return ConfigError{"tls.cert_file",
                       config.cert_file + ": not a PEM certificate (chain): " + error.message()};
  }
  context->use_private_key_file(config.key_file, ssl::context::pem, error);
  if (error) {
    return ConfigError{"tls.key_file", config.key_file + ": not an unencrypted PEM private key: " +
                                           error.message()};
  }
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return ConfigError{
        "tls.key_file",
        config.key_file + ": does not belong to the certificate in " + config.cert_file};
  }
  return context;
}

}  // namespace loyalty::api
