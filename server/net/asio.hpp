#pragma once
// The relay's one way in to Asio and Beast. Both are compiled once, in asio_impl.cpp
// (BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION), so including these
// headers costs declarations, not template instantiations of the whole library.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>

namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;
