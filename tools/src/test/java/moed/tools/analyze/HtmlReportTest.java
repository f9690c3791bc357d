package moed.tools.analyze;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.xpath.XPath;
import javax.xml.xpath.XPathConstants;
import javax.xml.xpath.XPathFactory;
import moed.jfr.read.MoedRecording;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * The HTML page's structure, not its pixels: the page is well-formed markup (so it parses as XML, which also shows
 * every recorded string was escaped), the recommendation leads, the summary is tables, every chart labels both axes
 * and has a legend, and the miss-ratio chart marks the live cache.
 */
class HtmlReportTest {
    /** A model name that would run as script, and break attributes, if it reached the page unescaped. */
    static final String HOSTILE = "<script>alert('x')</script> & \"t\".gguf";

    /** The hand-built recording of {@link RecordingAnalysisTest}, with hostile strings in its session. */
    static MoedRecording hostile(long budget, int slots) {
        MoedRecording r = RecordingAnalysisTest.recording();
        var s = new MoedRecording.Session(HOSTILE, 2, 4, 2, 1_000_000, budget, slots, "mmap<b>", "lru", "gate</td>");
        return new MoedRecording(s, r.decisions(), slots == 0 ? List.of() : r.accesses(), slots == 0 ? List.of() : r.loads(),
                r.prefetches(), r.evictions(), r.steps(), r.requests(), r.gauges(), r.predictions());
    }

    static Document parse(String html) throws Exception {
        var f = DocumentBuilderFactory.newInstance();
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", false);
        f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        return f.newDocumentBuilder().parse(new ByteArrayInputStream(html.getBytes(StandardCharsets.UTF_8)));
    }

    static final XPath XP = XPathFactory.newInstance().newXPath();

    static List<Element> all(Node context, String xpath) throws Exception {
        NodeList nodes = (NodeList) XP.evaluate(xpath, context, XPathConstants.NODESET);
        List<Element> out = new ArrayList<>();
        for (int i = 0; i < nodes.getLength(); i++) {
            out.add((Element) nodes.item(i));
        }
        return out;
    }

    static String text(Node context, String xpath) throws Exception {
        return ((String) XP.evaluate(xpath, context, XPathConstants.STRING)).strip();
    }

    @Test
    void thePageLeadsWithTheRecommendationAndSummarisesInTables() throws Exception {
        Report rep = RecordingAnalysis.analyze(hostile(4_000_000, 4), new RecordingAnalysis.Options(1.0, 0.9, Double.NaN));
        String html = HtmlReport.render(rep);
        Document doc = parse(html);

        // Recorded strings arrive as text, never as markup.
        assertEquals("moed analyze: " + HOSTILE, text(doc, "/html/head/title"));
        assertEquals(HOSTILE, text(doc, "//table[@class='kv run']//tr[th='model']/td"));
        assertEquals("mmap<b>", text(doc, "//table[@class='kv cache']//tr[th='backing']/td"));
        assertEquals("gate</td>", text(doc, "//table[@class='kv predictor']//tr[th='predictor']/td"));
        assertTrue(all(doc, "//script | //b").isEmpty(), "a recorded string became an element");
        assertFalse(html.contains("<script>"), "unescaped model name");

        // The recommendation comes first, then the summary's three tables, with units on the figures.
        assertEquals("Recommendation", text(doc, "(//h2)[1]"));
        assertEquals("Summary", text(doc, "(//h2)[2]"));
        assertTrue(text(doc, "//section[@class='advice']").contains("--cache-policy"), text(doc, "//section[@class='advice']"));
        assertTrue(all(doc, "//pre").isEmpty(), "the summary is tables, not preformatted text");
        assertEquals("3.81 MiB, 4 experts", text(doc, "//table[@class='kv cache']//tr[th='budget']/td"));
        assertEquals("75.0%", text(doc, "//table[@class='kv cache']//tr[th='resident when routed']/td"));
        assertEquals("1.50 ms", text(doc, "//table[@class='kv run']//tr[th='stall per token']/td"));
        assertTrue(text(doc, "//table[@class='kv predictor']//tr[th='recall, 1 layer ahead']/td").startsWith("83.3%"));

        // Every chart labels both axes and has a legend; nothing drawn at NaN or infinity.
        List<Element> charts = all(doc, "//svg");
        assertEquals(5, charts.size(), "accesses, stall, predictor, miss-ratio curves, hit rate over time");
        for (Element svg : charts) {
            String what = text(svg, "title");
            assertFalse(text(svg, ".//*[@class='axis-label x']").isEmpty(), what + ": x axis label");
            assertFalse(text(svg, ".//*[@class='axis-label y']").isEmpty(), what + ": y axis label");
            assertFalse(all(svg, ".//*[@class='legend']/text").isEmpty(), what + ": legend");
        }
        assertFalse(html.contains("NaN") || html.contains("Infinity"), "a value that could not be drawn");

        Element classes = chart(doc, "How routing found each layer's experts");
        assertEquals(List.of("resident", "prefetched in time", "prefetched late", "loaded on demand"), legend(classes));
        assertEquals("layer", text(classes, ".//*[@class='axis-label x']"));
        Element stall = chart(doc, "Stall per token by layer");
        assertTrue(text(stall, ".//*[@class='axis-label y']").contains("(ms)"));
        Element recall = chart(doc, "Predictor recall by layer");
        assertTrue(text(recall, ".//*[@class='axis-label y']").startsWith("recall"));

        // The miss-ratio curves: one line per policy, the live cache and the recommended size marked and labelled.
        Element curves = chart(doc, "Hit rate by cache size and policy");
        assertEquals(List.of("lru", "lfu", "heat", "belady (optimum)"), legend(curves));
        assertTrue(text(curves, ".//*[@class='axis-label x']").startsWith("cache size ("));
        assertTrue(text(curves, ".//*[@class='marker live']").startsWith("live cache: 4 experts, lru"),
                text(curves, ".//*[@class='marker live']"));
        assertTrue(text(curves, ".//*[@class='marker live']").contains("75.0% resident when routed"));
        assertFalse(all(curves, ".//*[@class='marker live']/circle").isEmpty());
        assertTrue(text(curves, ".//*[@class='marker recommended']").startsWith("recommended"));

        // What the page had before stays: the heat table, the curves' heading, the stall histogram.
        assertFalse(all(doc, "//table[@class='heat']").isEmpty());
        assertTrue(html.contains("Miss-ratio curves") && html.contains("Expert heat") && html.contains("<polyline"));
    }

    @Test
    void aRunWithoutACacheHasNoLivePointAndNoAccessCharts() throws Exception {
        Report rep = RecordingAnalysis.analyze(hostile(0, 0), new RecordingAnalysis.Options(1.0, 0.9, Double.NaN));
        String html = HtmlReport.render(rep);
        Document doc = parse(html);
        assertTrue(all(doc, "//*[@class='marker live']").isEmpty());
        assertTrue(all(doc, "//svg[title=\"How routing found each layer's experts\"]").isEmpty());
        assertEquals("none (experts read in place)", text(doc, "//table[@class='kv cache']//tr[th='budget']/td"));
        assertTrue(text(doc, "//h2[.='Miss-ratio curves']/following::figure[1]/p").contains("no live point"));
        for (Element svg : all(doc, "//svg")) {
            assertFalse(text(svg, ".//*[@class='axis-label x']").isEmpty());
            assertFalse(text(svg, ".//*[@class='axis-label y']").isEmpty());
        }
        assertFalse(html.contains("NaN") || html.contains("Infinity"));
    }

    private static Element chart(Document doc, String title) throws Exception {
        List<Element> found = all(doc, "//svg[title=\"" + title + "\"]");
        assertEquals(1, found.size(), title);
        return found.get(0);
    }

    private static List<String> legend(Element svg) throws Exception {
        List<String> names = new ArrayList<>();
        for (Element t : all(svg, ".//*[@class='legend']/text")) {
            names.add(t.getTextContent());
        }
        return names;
    }
}
