package moed.tools.analyze;

/**
 * A plain HTML table built row by row. Cells are text, escaped here, so callers never build markup from recorded
 * strings; the first cell of each body row heads that row.
 */
final class HtmlTable {
    private final StringBuilder h = new StringBuilder();

    HtmlTable(String cssClass, String caption) {
        h.append("<table class=\"").append(Html.esc(cssClass)).append("\">");
        if (caption != null) {
            h.append("<caption>").append(Html.esc(caption)).append("</caption>");
        }
    }

    HtmlTable head(String... names) {
        h.append("<thead><tr>");
        for (String n : names) {
            h.append("<th scope=\"col\">").append(Html.esc(n)).append("</th>");
        }
        h.append("</tr></thead>");
        return this;
    }

    HtmlTable row(String... cells) {
        h.append("<tr>");
        for (int i = 0; i < cells.length; i++) {
            String tag = i == 0 ? "th" : "td";
            h.append('<').append(tag).append(i == 0 ? " scope=\"row\">" : ">").append(Html.esc(cells[i]))
                    .append("</").append(tag).append('>');
        }
        h.append("</tr>");
        return this;
    }

    String html() {
        return h + "</table>";
    }
}
