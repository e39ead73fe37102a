// Line charts drawn by uPlot, coloured by the design tokens and redrawn when the theme changes. Only pages that
// include templates/includes/charts.html load uPlot and this file. Markup (x in Unix seconds, one unit or two):
//   <div class="chart" role="img" aria-label="…" data-chart='{"x": [1700000000, …], "series": [{"label":
//        "Success rate", "unit": "%", "tone": "success", "values": [99.5, 100, null, …]}]}'></div>
// A tone is a token name (primary, info, success, warning, danger, neutral). Pages that fetch their data call
// NexusCharts.draw(element, data), again to replace it. Charts in content htmx swaps in are drawn as it arrives.
(() => {
    const HEIGHT = 220;
    const charts = new Map(); // element -> { plot, data }

    // The tokens hold light-dark() values a canvas cannot read: let the browser resolve one on a probe element.
    function resolve(element, expression) {
        const probe = document.createElement("span");
        probe.style.color = expression;
        element.append(probe);
        const value = getComputedStyle(probe).color;
        probe.remove();
        return value;
    }

    function options(element, data) {
        const text = resolve(element, "var(--muted)");
        const grid = { stroke: resolve(element, "var(--border)"), width: 1 };
        const font = `12px ${getComputedStyle(element).fontFamily}`;
        const units = [...new Set(data.series.map((series) => series.unit || ""))].slice(0, 2);
        const axis = (extra) => ({ stroke: text, grid, ticks: grid, font, ...extra });
        return {
            width: element.clientWidth,
            height: HEIGHT,
            // A share is drawn against the whole 0-100 % (uPlot would stretch a constant 100 % up to 200 %).
            scales: { x: { time: true }, ...(units.includes("%") && { "%": { range: [0, 100] } }) },
            series: [
                {},
                ...data.series.map((series) => ({
                    label: series.label,
                    scale: series.unit || "",
                    stroke: resolve(element, `var(--${series.tone || "primary"})`),
                    width: 2,
                    spanGaps: false,
                    value: (plot, value) => (value == null ? "–" : `${+value.toFixed(1)}${series.unit || ""}`),
                })),
            ],
            axes: [
                axis({ space: 90 }),
                ...units.map((unit, index) =>
                    axis({
                        scale: unit,
                        side: index ? 1 : 3,
                        size: 64,
                        grid: { ...grid, show: !index },
                        values: (plot, ticks) => ticks.map((tick) => `${tick}${unit}`),
                    }),
                ),
            ],
        };
    }

    function draw(element, data) {
        charts.get(element)?.plot.destroy();
        const values = [data.x, ...data.series.map((series) => series.values)];
        charts.set(element, { plot: new uPlot(options(element, data), values, element), data });
    }

    function redrawAll() {
        for (const [element, { data }] of charts) draw(element, data);
    }

    const resized = new ResizeObserver((entries) => {
        for (const entry of entries) {
            const chart = charts.get(entry.target);
            const width = entry.target.clientWidth;
            if (chart && width && width !== chart.plot.width) chart.plot.setSize({ width, height: HEIGHT });
        }
    });

    function drawWithin(root) {
        for (const [element, { plot }] of charts) {
            if (!element.isConnected) {
                plot.destroy();
                charts.delete(element);
                resized.unobserve(element);
            }
        }
        const found = [...root.querySelectorAll("[data-chart]"), ...(root.matches("[data-chart]") ? [root] : [])];
        for (const element of found) {
            if (charts.has(element)) continue;
            draw(element, JSON.parse(element.dataset.chart));
            resized.observe(element);
        }
    }

    drawWithin(document.documentElement);
    document.addEventListener("htmx:load", (event) => drawWithin(event.detail.elt));
    document.addEventListener("nexus:themechange", redrawAll);
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", redrawAll);

    window.NexusCharts = {
        draw(element, data) {
            draw(element, data);
            resized.observe(element);
        },
    };
})();
