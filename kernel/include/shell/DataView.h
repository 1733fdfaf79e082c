/*
 * DataView.h - the System Data View: a full-screen, self-refreshing
 * look at the machine (the shell's `data` command).
 *
 * Pages: Overview (CPU, memory, uptime), PCI devices, NVMe controllers, NVMe
 * namespaces, NVMe health (SMART), Disks (partitions, file systems, mount
 * points, sector cache), Interrupts, VMD (DataView-VMD.c). Left/Right change
 * page (1-8 jump),
 * Up/Down/PgUp/PgDn/Home/End scroll, Esc or q leaves; the page refreshes
 * once a second.
 *
 * Drawing: each page is rendered into a DATA_VIEW_TEXT (lines of at most
 * DATA_VIEW_WIDTH characters, one style per line), then DataViewCompose
 * turns it into one byte stream for ConsoleWrite, so the VGA console and the
 * serial terminal get the same bytes: cursor home, then for each screen row
 * `ESC [ row ; 1 H`, the text, `ESC [ K`. Only rows that changed since the
 * previous frame are sent (the screen is never cleared once a second), and
 * the last column is never written (no pending wrap on either console).
 * Line 1 is `Page 3/7: NVMe controllers`, the last row says which keys do
 * what. The text buffer and the composition are pure (host-tested by
 * tests/unit/Test-DataView.c against the VGA terminal emulation);
 * gathering the figures (DataView-Pages.c) and the key loop are
 * kernel-only.
 *
 * While the view runs, the console log level is raised to errors only (the
 * log ring keeps everything; `log` shows it) so log lines do not scribble
 * over the page; a full redraw every few seconds repairs what does.
 */

#ifndef SHELL_DATAVIEW_H_INCLUDED
#define SHELL_DATAVIEW_H_INCLUDED

#include "Base.h"

#define DATA_VIEW_COLUMNS 80
#define DATA_VIEW_WIDTH (DATA_VIEW_COLUMNS - 1)  // text columns: the last one stays empty
#define DATA_VIEW_ROWS 24                        // rows drawn (fits an 80x24 terminal and the 80x25 VGA screen)
#define DATA_VIEW_BODY_ROWS (DATA_VIEW_ROWS - 2) // between the title and the key line
#define DATA_VIEW_MAX_LINES 480

// Line styles (SGR attributes on both consoles)
#define DATA_VIEW_STYLE_NORMAL 0
#define DATA_VIEW_STYLE_HEADING 1   // bright (column headings, section names)
#define DATA_VIEW_STYLE_WARNING 2   // bright red on the default background: something needs attention
#define DATA_VIEW_STYLE_GOOD 3      // green
#define DATA_VIEW_STYLE_BAR 4       // reverse video (title and key lines)
#define DATA_VIEW_STYLE_COUNT 5

typedef struct tag_DATA_VIEW_TEXT {
    U32 LineCount;
    BOOL Truncated;                              // lines were dropped: more than DATA_VIEW_MAX_LINES
    U8 Styles[DATA_VIEW_MAX_LINES];
    char Lines[DATA_VIEW_MAX_LINES][DATA_VIEW_WIDTH + 1];
} DATA_VIEW_TEXT;

/** What the screen holds now, so the next frame only sends the rows that differ. */
typedef struct tag_DATA_VIEW_SCREEN {
    BOOL Valid;                                  // FALSE: the next frame redraws everything
    U8 Styles[DATA_VIEW_ROWS];
    char Rows[DATA_VIEW_ROWS][DATA_VIEW_WIDTH + 1];
} DATA_VIEW_SCREEN;

typedef struct tag_DATA_VIEW_FRAME {
    U32 PageIndex;                               // 0-based
    U32 PageCount;
    LPCSTR Title;                                // "NVMe controllers"
    U32 Scroll;                                  // first body line shown
    LPCSTR Status;                               // right end of the title line ("up 12 s"), may be NULL
} DATA_VIEW_FRAME;

/** Largest byte stream one frame can need (every row redrawn, with styles). */
#define DATA_VIEW_FRAME_BYTES (DATA_VIEW_ROWS * (DATA_VIEW_WIDTH + 40) + 64)

/************************************************************************/
// Pure: text building and frame composition

void DataViewTextClear(DATA_VIEW_TEXT* Text);
/** Adds one line (cut at DATA_VIEW_WIDTH; a '\n' or other control byte inside becomes a space). */
void DataViewTextAdd(DATA_VIEW_TEXT* Text, U32 Style, LPCSTR Format, ...) PRINTF_LIKE(3, 4);
/** Adds Value wrapped at spaces into lines of DATA_VIEW_WIDTH, the first prefixed by Label, the others indented. */
void DataViewTextWrap(DATA_VIEW_TEXT* Text, U32 Style, LPCSTR Label, LPCSTR Value);
/** The largest useful scroll position for Text. */
U32 DataViewMaxScroll(const DATA_VIEW_TEXT* Text);
/**
 * The bytes that bring Screen to the frame (all rows when !Screen->Valid),
 * updating Screen. Returns the length (0: nothing changed), always below
 * DATA_VIEW_FRAME_BYTES; Out must have room for DATA_VIEW_FRAME_BYTES.
 */
SIZE DataViewCompose(const DATA_VIEW_TEXT* Text, const DATA_VIEW_FRAME* Frame, DATA_VIEW_SCREEN* Screen, LPSTR Out);

/************************************************************************/
// Kernel: pages and the view

#define DATA_VIEW_PAGE_COUNT 8

typedef struct tag_DATA_VIEW_STATE DATA_VIEW_STATE;

/** The title of a page ("Overview", ...). */
LPCSTR DataViewPageTitle(U32 Page);
/** Renders one page (DataView-Pages.c). State keeps what the pages need between refreshes. */
void DataViewRenderPage(U32 Page, DATA_VIEW_STATE* State, DATA_VIEW_TEXT* Text);
DATA_VIEW_STATE* DataViewStateCreate(void);
/** Page 8, the Intel VMDs (DataView-VMD.c). */
void DataViewRenderVMD(DATA_VIEW_TEXT* Text);
void DataViewStateDestroy(DATA_VIEW_STATE* State);

/** Runs the view on the console until Esc; StartPage 0-based. Returns FALSE when out of memory. */
BOOL DataViewRun(U32 StartPage);

#endif  // SHELL_DATAVIEW_H_INCLUDED
