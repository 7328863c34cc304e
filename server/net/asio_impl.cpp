// The single translation unit that compiles Asio, Asio.SSL and Beast for the whole relay.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
