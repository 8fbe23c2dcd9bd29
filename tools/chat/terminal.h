// The chat's terminal: reads stdin a line at a time on the uv loop and prints lines above a
// prompt that stays at the bottom while messages arrive.
//
// When stdin and stdout are both a terminal, stdin is put in raw mode and a small line editor
// keeps the half-typed line (backspace, Ctrl-U, Ctrl-W, Ctrl-L; Ctrl-C and Ctrl-D quit), so an
// incoming message never tears what the user is typing. Otherwise (a pipe, a file, a script)
// stdin is read as plain lines and output is plain lines: no prompt, no escape sequences.
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::tools::chat {

// Replaces control characters (and DEL) with '?', so text from the network cannot move the
// cursor or change the terminal's settings.
std::string printable(std::string_view text);

class Terminal {
public:
    std::function<void(std::string line)> on_line;  // a complete line, without its end
    std::function<void()> on_eof;                   // end of input, Ctrl-D on an empty line, Ctrl-C

    Terminal() = default;
    Terminal(const Terminal&) = delete;
    Terminal& operator=(const Terminal&) = delete;
    ~Terminal();

    // Starts reading stdin on `loop`. Returns 0 or a libuv error code.
    int start(uv_loop_t* loop);
    // Stops reading and gives the terminal its mode back; the handles close on the loop.
    void close();

    bool interactive() const { return interactive_; }
    void set_prompt(std::string prompt);
    // Prints one line (no newline needed) above the prompt.
    void print(std::string_view line);

private:
    enum class Escape : uint8_t { None, Esc, Csi, Ss3 };  // where we are in an escape sequence

    static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    void feed_raw(std::string_view bytes);
    void feed_lines(std::string_view bytes);
    void finish_input();
    void erase_input();   // removes the prompt and typed text from the screen
    void draw_input();    // writes the prompt and typed text again
    size_t columns() const;

    uv_loop_t* loop_ = nullptr;
    uv_tty_t tty_;
    uv_pipe_t pipe_;
    uv_timer_t file_timer_;  // stdin is a regular file: its lines are fed from this timer
    uv_stream_t* stream_ = nullptr;
    bool tty_open_ = false, pipe_open_ = false, timer_open_ = false;
    bool raw_ = false;
    bool interactive_ = false;
    bool eof_ = false;

    std::string prompt_;
    std::string input_;        // the line being typed (raw mode) or a partial line (pipe)
    std::string file_data_;    // stdin read at once when it is a regular file
    bool drawn_ = false;       // the prompt is on screen
    bool last_cr_ = false;     // a CR just ended a line: a following LF is the same end
    Escape escape_ = Escape::None;
    char read_buf_[4096];
};

}  // namespace herald::tools::chat
